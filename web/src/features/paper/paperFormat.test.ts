import { describe, expect, it } from "vitest";
import { equityCurves, money } from "./paperFormat";

describe("paper trading formats", () => {
  it("formats minor units in the portfolio's currency", () => {
    expect(money(1234567n, "USD")).toBe("$12,345.67");
    expect(money(-250n, "USD")).toBe("-$2.50");
  });

  it("carries the drawdown from the running peak", () => {
    const { equity, drawdown } = equityCurves([
      { time: 1, equityMinor: 10000n },
      { time: 2, equityMinor: 12000n },
      { time: 3, equityMinor: 9000n },
    ]);
    expect(equity.map((p) => p.value)).toEqual([100, 120, 90]);
    expect(drawdown.map((p) => p.value)).toEqual([0, 0, 90 / 120 - 1]);
  });
});
