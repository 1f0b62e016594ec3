import { timestampDate } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { blockKey, moveBlock, newBlock, paramsText, placeBlockViolations, readList, readParams, readTime, removeBlock, timeText } from "./blockForm";

describe("live block form state", () => {
  it("creates blocks of each kind with the sample symbol", () => {
    const chart = newBlock("chart");
    expect(chart.kind.case).toBe("chart");
    expect(chart.kind.value).toMatchObject({ symbol: "EURUSD", timeframe: "1h", indicators: [] });
    const forecast = newBlock("forecast", "BTCUSD", "1d");
    expect(forecast.kind.value).toMatchObject({ symbol: "BTCUSD", timeframe: "1d", windowBars: 60, horizonBars: 5 });
    expect(newBlock("tryIt").kind.case).toBe("tryIt");
    expect(newBlock("signal").kind.case).toBe("signal");
  });
  it("moves and removes blocks, refusing moves off the list", () => {
    expect(moveBlock(["a", "b", "c"], 0, 1)).toEqual(["b", "a", "c"]);
    expect(moveBlock(["a", "b", "c"], 2, -1)).toEqual(["a", "c", "b"]);
    expect(moveBlock(["a", "b"], 0, -1)).toEqual(["a", "b"]);
    expect(moveBlock(["a", "b"], 1, 1)).toEqual(["a", "b"]);
    expect(removeBlock(["a", "b", "c"], 1)).toEqual(["a", "c"]);
  });
  it("reads lists and parameters, reporting what is not name=number", () => {
    expect(readList("rsi:14, macd  atr,")).toEqual(["rsi:14", "macd", "atr"]);
    expect(readParams("fast=10, slow = 30.5, oops, x=abc")).toEqual({ params: { fast: 10, slow: 30.5 }, bad: ["oops", "x=abc"] });
    expect(paramsText({ fast: 10, slow: 30 })).toBe("fast=10, slow=30");
  });
  it("reads window ends as UTC times", () => {
    expect(timestampDate(readTime("2017-11-14T12:00:00Z")!).toISOString()).toBe("2017-11-14T12:00:00.000Z");
    expect(timeText(readTime("2017-11-14T12:00"))).toBe("2017-11-14T12:00:00Z");
    expect(timeText(readTime("2017-11-14"))).toBe("2017-11-14T00:00:00Z");
    expect(timeText(readTime("2017-11-14T13:00:00+01:00"))).toBe("2017-11-14T12:00:00Z");
    expect(readTime("yesterday")).toBeUndefined();
    expect(readTime("2017-13-45")).toBeUndefined();
  });
  it("places the server's violations on their block fields", () => {
    const errors = placeBlockViolations([
      { field: "content.modules[0].lessons[1].blocks[2].symbol", description: "NOPE is not a symbol the platform stores (EURUSD)" },
      { field: "content.modules[0].lessons[1].blocks[2].symbol", description: "second one is dropped" },
      { field: "content.modules[0].lessons[1].blocks[0].indicators[1]", description: "foo is not an indicator the platform computes" },
      { field: "content.modules[1].lessons[0].blocks[3].params[fast]", description: "is not a parameter of rsi" },
      { field: "content.modules[0].lessons[1].title", description: "is required" },
    ]);
    expect(errors).toEqual({
      [blockKey(0, 1, 2)]: { symbol: "NOPE is not a symbol the platform stores (EURUSD)" },
      [blockKey(0, 1, 0)]: { indicators: "foo is not an indicator the platform computes" },
      [blockKey(1, 0, 3)]: { params: "fast is not a parameter of rsi" },
    });
  });
});
