/**
 * The paper-trading forms as pure functions (unit tested): the order ticket and the new
 * portfolio's cash read into requests, each mistake next to its field (never "Something went
 * wrong" from a NaN or a BigInt that cannot be), and the guard that sends an order once with one
 * idempotency key however often it is pressed or repeated.
 */
import { OrderType } from "@gen/trading/paper/v1/paper_trading_service_pb";

/** The largest quantity the ticket sends (well inside int64). */
export const MAX_QUANTITY = 1_000_000_000;
/** The largest virtual cash, in dollars. */
export const MAX_CASH = 1_000_000_000_000;

export interface OrderFormValues {
  symbol: string;
  side: string;
  type: string;
  tif: string;
  quantity: string;
  limit: string;
  stop: string;
  takeProfit: string;
  stopLoss: string;
}

/** PlaceOrderRequest's fields the ticket fills (the portfolio and the key are the page's). */
export interface OrderRequestInit {
  symbol: string;
  side: number;
  type: number;
  timeInForce: number;
  quantity: bigint;
  limitPrice: number;
  stopPrice: number;
  bracket?: { takeProfitPrice: number; stopLossPrice: number };
}

export type FormErrors = Record<string, string>;

const DECIMAL = /^\d+(\.\d+)?$|^\.\d+$/;

/** A whole number from 1 to `max`, or the message for the field. */
export function readPositiveInteger(text: string, label: string, max: number): number | string {
  const t = text.trim();
  if (!t) return `${label} is required`;
  if (!/^\d+$/.test(t)) return `${label} must be a whole number, like 10`;
  const n = Number(t);
  if (n < 1) return `${label} must be at least 1`;
  if (n > max) return `${label} must be at most ${max.toLocaleString("en-US")}`;
  return n;
}

/** A finite price above zero, or the message for the field. */
export function readPrice(text: string, label: string): number | string {
  const t = text.trim();
  if (!t) return `${label} is required`;
  if (!DECIMAL.test(t)) return `${label} must be a number, like 1.2345`;
  const n = Number(t);
  if (!Number.isFinite(n) || n <= 0) return `${label} must be above zero`;
  return n;
}

export const usesLimit = (type: number) => type === OrderType.LIMIT || type === OrderType.STOP_LIMIT;
export const usesStop = (type: number) => type === OrderType.STOP || type === OrderType.STOP_LIMIT;

/**
 * The ticket into a request, or the errors by field. Limit and stop prices go only with the
 * order types that use them (a hidden field's old value is not sent: the server would take it as
 * the reference price); the bracket only when one of its prices is given, then both must be.
 */
export function readOrderForm(v: OrderFormValues): { request: OrderRequestInit } | { errors: FormErrors } {
  const errors: FormErrors = {};
  const type = Number(v.type);
  const symbol = v.symbol.trim();
  if (!symbol) errors.symbol = "Symbol is required";
  const quantity = readPositiveInteger(v.quantity, "Quantity", MAX_QUANTITY);
  if (typeof quantity === "string") errors.quantity = quantity;
  let limitPrice = 0;
  if (usesLimit(type)) {
    const p = readPrice(v.limit, "Limit price");
    if (typeof p === "string") errors.limit = p;
    else limitPrice = p;
  }
  let stopPrice = 0;
  if (usesStop(type)) {
    const p = readPrice(v.stop, "Stop price");
    if (typeof p === "string") errors.stop = p;
    else stopPrice = p;
  }
  let bracket: OrderRequestInit["bracket"];
  if (v.takeProfit.trim() || v.stopLoss.trim()) {
    const tp = v.takeProfit.trim() ? readPrice(v.takeProfit, "Take-profit") : 0;
    const sl = v.stopLoss.trim() ? readPrice(v.stopLoss, "Stop-loss") : 0;
    if (typeof tp === "string") errors.takeProfit = tp;
    if (typeof sl === "string") errors.stopLoss = sl;
    if (typeof tp === "number" && typeof sl === "number") bracket = { takeProfitPrice: tp, stopLossPrice: sl };
  }
  if (Object.keys(errors).length > 0) return { errors };
  return {
    request: {
      symbol,
      side: Number(v.side),
      type,
      timeInForce: Number(v.tif),
      quantity: BigInt(quantity as number),
      limitPrice,
      stopPrice,
      bracket,
    },
  };
}

/** The new portfolio's virtual cash ("100000", "2500.50") in cents, or the message for the field. */
export function readCash(text: string): bigint | string {
  const t = text.trim();
  if (!t) return "Virtual cash is required";
  if (!/^\d+(\.\d{1,2})?$/.test(t)) return "Virtual cash must be an amount in dollars, like 100000 or 2500.50 (no commas)";
  const n = Number(t);
  if (n <= 0) return "Virtual cash must be above zero";
  if (n > MAX_CASH) return `Virtual cash must be at most ${MAX_CASH.toLocaleString("en-US")}`;
  const [whole, cents = ""] = t.split(".");
  return BigInt(whole) * 100n + BigInt(cents.padEnd(2, "0"));
}

/**
 * One send at a time, with one idempotency key until it succeeds: a repeat after a timeout or
 * an error reuses the key (the server places the order once), a double click is refused at once
 * (no React state round trip), and the key changes after a success or when the order changes.
 */
export class SubmitGuard {
  #pending = false;
  #key: string;
  readonly #newKey: () => string;

  constructor(newKey: () => string = () => crypto.randomUUID()) {
    this.#newKey = newKey;
    this.#key = newKey();
  }

  get key(): string {
    return this.#key;
  }

  get pending(): boolean {
    return this.#pending;
  }

  /** True when a send may start now (and it is then under way); false while one is. */
  begin(): boolean {
    if (this.#pending) return false;
    this.#pending = true;
    return true;
  }

  /** The send ended; after a success the next order gets a new key. */
  end(ok: boolean): void {
    this.#pending = false;
    if (ok) this.renew();
  }

  /** A different order (a field changed): a new key. */
  renew(): void {
    this.#key = this.#newKey();
  }
}
