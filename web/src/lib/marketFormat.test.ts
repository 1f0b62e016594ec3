import { describe, expect, it } from "vitest";
import { backoffDelay, formatMarketTime, formatMoney, formatPercent, formatPrice, formatRatio, formatSignedPct, priceDecimals } from "./marketFormat";

describe("market formatting", () => {
  it("shows prices to their tick", () => {
    expect(priceDecimals(0.00001)).toBe(5);
    expect(priceDecimals(0.01)).toBe(2);
    expect(priceDecimals(1)).toBe(0);
    expect(priceDecimals(undefined, 1.0823)).toBe(5);
    expect(priceDecimals(0, 152.3)).toBe(3);
    expect(formatPrice(1.082347, 5)).toBe("1.08235");
    expect(formatPrice(0, 5)).toBe("–");
  });
  it("shows fractions, percentages, ratios and money", () => {
    expect(formatPercent(0.1234)).toBe("12.34 %");
    expect(formatPercent(Number.NaN)).toBe("–");
    expect(formatSignedPct(0.42)).toBe("+0.42 %");
    expect(formatSignedPct(-1.5)).toBe("−1.50 %");
    expect(formatRatio(1.849)).toBe("1.85");
    expect(formatRatio(Number.POSITIVE_INFINITY)).toBe("∞");
    expect(formatMoney(10234.5)).toBe("10,234.50");
  });
  it("backs off exponentially with jitter below the cap", () => {
    expect(backoffDelay(0, 1000, 30_000, () => 0)).toBe(1000);
    expect(backoffDelay(3, 1000, 30_000, () => 0)).toBe(8000);
    expect(backoffDelay(10, 1000, 30_000, () => 0)).toBe(30_000);
    expect(backoffDelay(10, 1000, 30_000, () => 1)).toBe(24_000);
    for (let a = 0; a < 12; a++) expect(backoffDelay(a)).toBeLessThanOrEqual(30_000);
  });
});

describe("formatMarketTime", () => {
  it("says the time in UTC, like the chart's time axis, whatever the browser's zone", () => {
    expect(formatMarketTime(new Date(Date.UTC(2024, 2, 5, 14, 0, 30)))).toBe("2024-03-05 14:00 UTC");
    expect(formatMarketTime(new Date(1_700_000_000_000))).toBe("2023-11-14 22:13 UTC");
    expect(formatMarketTime(undefined)).toBe("–");
    expect(formatMarketTime(new Date(Number.NaN))).toBe("–");
  });
});
