import { describe, expect, it } from "vitest";
import { formatParam, indicatorSpec, initialValues, paramFields, paramLabel, parseParams } from "./params";

const catalogue = [
  { name: "fast_period", type: 1, defaultValue: 12, minValue: 2, maxValue: 200, description: "Fast EMA" },
  { name: "slow_period", type: 1, defaultValue: 26, minValue: 2, maxValue: 400, description: "" },
  { name: "nbdev", type: 2, defaultValue: 2.0000000001, minValue: 0.1, maxValue: 5, description: "Width" },
];

describe("fields generated from a catalogue", () => {
  const fields = paramFields(catalogue);
  it("has a labelled field per parameter with its default, bounds and step", () => {
    expect(fields.map((f) => f.label)).toEqual(["Fast period", "Slow period", "Nbdev"]);
    expect(fields[0]).toMatchObject({ integer: true, min: 2, max: 200, step: 1, initial: "12", hint: "Fast EMA (2 to 200)" });
    expect(fields[1].hint).toBe("2 to 400");
    expect(fields[2]).toMatchObject({ integer: false, step: "any", initial: "2" });
    expect(initialValues(fields)).toEqual({ fast_period: "12", slow_period: "26", nbdev: "2" });
  });
  it("reads valid input, defaults for empty input, and names the field of a bad one", () => {
    expect(parseParams(fields, { fast_period: "10", slow_period: "", nbdev: "1.5" })).toEqual({
      values: { fast_period: 10, slow_period: 26, nbdev: 1.5 },
      errors: {},
    });
    const bad = parseParams(fields, { fast_period: "1", slow_period: "2.5", nbdev: "abc" });
    expect(bad.values).toEqual({});
    expect(bad.errors).toEqual({
      fast_period: "Fast period must be from 2 to 200",
      slow_period: "Slow period must be a whole number from 2 to 400",
      nbdev: "Nbdev must be a number from 0.1 to 5",
    });
  });
  it("writes indicator specs as the API reads them", () => {
    const macd = paramFields(catalogue.slice(0, 2));
    expect(indicatorSpec("macd", macd, { fast_period: 12, slow_period: 26 })).toBe("macd:12,26");
    expect(indicatorSpec("vwap", [], {})).toBe("vwap");
    expect(indicatorSpec("bbands", paramFields(catalogue.slice(2)), { nbdev: 2.5 })).toBe("bbands:2.5");
  });
  it("formats labels and numbers", () => {
    expect(paramLabel("stop-loss_atr")).toBe("Stop loss atr");
    expect(formatParam(0.1 + 0.2, false)).toBe("0.3");
    expect(formatParam(14.4, true)).toBe("14");
  });
});
