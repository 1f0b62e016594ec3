import { OrderRole, OrderSide, OrderStatus, OrderType, TimeInForce } from "@gen/trading/paper/v1/paper_trading_service_pb";

export const SIDE_LABEL: Record<number, string> = { [OrderSide.BUY]: "Buy", [OrderSide.SELL]: "Sell" };
export const TYPE_LABEL: Record<number, string> = {
  [OrderType.MARKET]: "Market",
  [OrderType.LIMIT]: "Limit",
  [OrderType.STOP]: "Stop",
  [OrderType.STOP_LIMIT]: "Stop-limit",
};
export const TIF_LABEL: Record<number, string> = { [TimeInForce.DAY]: "Day", [TimeInForce.GTC]: "GTC" };
export const STATUS_LABEL: Record<number, string> = {
  [OrderStatus.WORKING]: "working",
  [OrderStatus.PENDING]: "pending",
  [OrderStatus.FILLED]: "filled",
  [OrderStatus.CANCELLED]: "cancelled",
  [OrderStatus.REJECTED]: "rejected",
  [OrderStatus.EXPIRED]: "expired",
};
export const ROLE_LABEL: Record<number, string> = {
  [OrderRole.ENTRY]: "entry",
  [OrderRole.TAKE_PROFIT]: "take-profit",
  [OrderRole.STOP_LOSS]: "stop-loss",
};

/** Minor units (bigint) of `currency` as money, e.g. 1234567n USD -> "$12,345.67". */
export function money(minor: bigint, currency: string): string {
  const code = currency || "USD";
  const digits = new Intl.NumberFormat("en-US", { style: "currency", currency: code }).resolvedOptions().maximumFractionDigits ?? 2;
  return new Intl.NumberFormat("en-US", { style: "currency", currency: code }).format(Number(minor) / 10 ** digits);
}

/** Equity points (minor units) as a curve in major units and its drawdown (fraction below the running peak). */
export function equityCurves(points: { time: number; equityMinor: bigint }[], scale = 100) {
  let peak = -Infinity;
  const equity = [];
  const drawdown = [];
  for (const p of points) {
    const value = Number(p.equityMinor) / scale;
    peak = Math.max(peak, value);
    equity.push({ time: p.time, value });
    drawdown.push({ time: p.time, value: peak > 0 ? value / peak - 1 : 0 });
  }
  return { equity, drawdown };
}
