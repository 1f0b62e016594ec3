import { BillingInterval } from "@gen/trading/billing/v1/plan_service_pb";
import { describe, expect, it } from "vitest";
import { formatMoney, parseMinor, perInterval } from "./money";

describe("formatMoney", () => {
  it("reads minor units in the currency's own decimals", () => {
    expect(formatMoney(1900n, "usd")).toBe("$19.00");
    expect(formatMoney(19000n, "eur")).toBe("€190.00");
    expect(formatMoney(500n, "jpy")).toBe("¥500");
  });
  it("falls back to the raw figure for a code Intl does not know", () => {
    expect(formatMoney(12n, "x1")).toBe("12 x1");
  });
});

describe("perInterval", () => {
  it("names the interval", () => {
    expect(perInterval(BillingInterval.MONTHLY)).toBe("per month");
    expect(perInterval(BillingInterval.YEARLY)).toBe("per year");
    expect(perInterval(BillingInterval.UNSPECIFIED)).toBe("");
  });
});

describe("parseMinor", () => {
  it("reads what a person types in the currency's minor units", () => {
    expect(parseMinor("7", "usd")).toBe(700n);
    expect(parseMinor("7.5", "usd")).toBe(750n);
    expect(parseMinor(" 19.00 ", "usd")).toBe(1900n);
    expect(parseMinor("500", "jpy")).toBe(500n);
  });
  it("refuses what is not an amount", () => {
    expect(parseMinor("7.505", "usd")).toBeNull();
    expect(parseMinor("-1", "usd")).toBeNull();
    expect(parseMinor("abc", "usd")).toBeNull();
    expect(parseMinor("5.5", "jpy")).toBeNull();
  });
});
