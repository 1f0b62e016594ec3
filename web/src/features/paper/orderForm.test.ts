import { OrderType } from "@gen/trading/paper/v1/paper_trading_service_pb";
import { describe, expect, it } from "vitest";
import { MAX_QUANTITY, type OrderFormValues, readCash, readOrderForm, SubmitGuard } from "./orderForm";

const base: OrderFormValues = {
  symbol: "EURUSD",
  side: "1",
  type: String(OrderType.MARKET),
  tif: "1",
  quantity: "1",
  limit: "",
  stop: "",
  takeProfit: "",
  stopLoss: "",
};
const errorsOf = (v: Partial<OrderFormValues>) => {
  const r = readOrderForm({ ...base, ...v });
  return "errors" in r ? r.errors : {};
};
const requestOf = (v: Partial<OrderFormValues>) => {
  const r = readOrderForm({ ...base, ...v });
  if ("errors" in r) throw new Error(JSON.stringify(r.errors));
  return r.request;
};

describe("readOrderForm", () => {
  it("quantity is a whole number from 1 to the bound, said next to the field", () => {
    for (const q of ["1.9", "0.5", "-3", "abc", "0", "", "1e19", "1,000"]) {
      expect(errorsOf({ quantity: q }).quantity, q).toBeTruthy();
    }
    expect(errorsOf({ quantity: String(MAX_QUANTITY + 1) }).quantity).toMatch(/at most/);
    expect(requestOf({ quantity: " 25 " }).quantity).toBe(25n);
  });
  it("prices are finite and above zero", () => {
    const limit = String(OrderType.LIMIT);
    for (const p of ["abc", "0", "-1", "", "1e400", "NaN", "Infinity"]) {
      expect(errorsOf({ type: limit, limit: p }).limit, p).toBeTruthy();
    }
    expect(errorsOf({ takeProfit: "x" }).takeProfit).toBeTruthy();
    expect(errorsOf({ stopLoss: "-2" }).stopLoss).toBeTruthy();
    expect(requestOf({ type: limit, limit: "1.2" }).limitPrice).toBe(1.2);
  });
  it("a hidden field's price is not sent: limit and stop only with the types that use them", () => {
    const market = requestOf({ limit: "1.2", stop: "1.1" });
    expect(market.limitPrice).toBe(0);
    expect(market.stopPrice).toBe(0);
    const stop = requestOf({ type: String(OrderType.STOP), limit: "1.2", stop: "1.1" });
    expect([stop.limitPrice, stop.stopPrice]).toEqual([0, 1.1]);
    const limit = requestOf({ type: String(OrderType.LIMIT), limit: "1.2", stop: "1.1" });
    expect([limit.limitPrice, limit.stopPrice]).toEqual([1.2, 0]);
    const both = requestOf({ type: String(OrderType.STOP_LIMIT), limit: "1.2", stop: "1.1" });
    expect([both.limitPrice, both.stopPrice]).toEqual([1.2, 1.1]);
    // a market order with a bad value in the hidden limit field is not refused for it
    expect(errorsOf({ limit: "abc" })).toEqual({});
  });
  it("the bracket only when one of its prices is given", () => {
    expect(requestOf({}).bracket).toBeUndefined();
    expect(requestOf({ takeProfit: "9", stopLoss: "0.1" }).bracket).toEqual({ takeProfitPrice: 9, stopLossPrice: 0.1 });
  });
});

describe("readCash", () => {
  it("dollars to cents, or the field's message", () => {
    expect(readCash("100000")).toBe(10_000_000n);
    expect(readCash("2500.5")).toBe(250_050n);
    for (const c of ["1,000", "abc", "", "0", "-5", "1e19", "10.123", "1000000000001"]) {
      expect(typeof readCash(c), c).toBe("string");
    }
  });
});

describe("SubmitGuard", () => {
  let n = 0;
  const keys = () => `k${++n}`;
  it("refuses a second send while one is under way (a double click)", () => {
    const g = new SubmitGuard(keys);
    expect(g.begin()).toBe(true);
    expect(g.begin()).toBe(false);
    g.end(false);
    expect(g.begin()).toBe(true);
  });
  it("a repeat after a failure (a timeout) sends the same key; a success or a change renews it", () => {
    const g = new SubmitGuard(keys);
    const first = g.key;
    g.begin();
    g.end(false);
    expect(g.key).toBe(first);
    g.begin();
    g.end(true);
    const second = g.key;
    expect(second).not.toBe(first);
    g.renew();
    expect(g.key).not.toBe(second);
  });
});
