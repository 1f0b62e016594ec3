import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import {
  bandsInView,
  columnCandles,
  indicatorLayout,
  liveCandle,
  liveStep,
  MAX_BAND_POINTS,
  mergeCandles,
  packedNumbers,
  placement,
  predictionBand,
  rfc3339,
  timeframeSeconds,
  timeframesFrom,
  toCandles,
  toLinePoints,
} from "./chartData";

const ts = (s: number) => timestampFromMs(s * 1000);
const bar = (s: number, close = 1.1) => ({ time: ts(s), open: close, high: close + 0.01, low: close - 0.01, close, volume: 5 });

describe("timeframes", () => {
  it("knows the API's timeframes", () => {
    expect(timeframeSeconds("1h")).toBe(3600);
    expect(timeframeSeconds("4h")).toBe(14400);
    expect(timeframeSeconds("2h")).toBe(0);
  });
  it("offers the stored timeframe and the coarser ones it resamples to", () => {
    expect(timeframesFrom("1h")).toEqual(["1h", "4h", "1d"]);
    expect(timeframesFrom("1d")).toEqual(["1d"]);
    expect(timeframesFrom("5m")).toEqual(["5m", "15m", "30m", "1h", "4h", "1d"]);
  });
});

describe("candles", () => {
  it("maps bars to candles in seconds, ascending, without duplicates", () => {
    const candles = toCandles([bar(7200), bar(3600), bar(7200, 1.2)]);
    expect(candles.map((c) => c.time)).toEqual([3600, 7200]);
    expect(candles[1].close).toBe(1.2);
    expect(candles[0]).toEqual({ time: 3600, open: 1.1, high: 1.11, low: 1.09, close: 1.1, volume: 5 });
  });
  it("prepends an older page and lets the newer copy of a bar win", () => {
    const newer = toCandles([bar(7200), bar(10800)]);
    const older = toCandles([bar(0), bar(3600), bar(7200, 9)]);
    const merged = mergeCandles(newer, older);
    expect(merged.map((c) => c.time)).toEqual([0, 3600, 7200, 10800]);
    expect(merged[2].close).toBe(9);
  });
  it("reads GetHistory's packed columns like bars", () => {
    const bars = [bar(7200), bar(3600), bar(7200, 1.2)];
    const columns = {
      timeSeconds: bars.map((b) => b.time.seconds),
      open: bars.map((b) => b.open),
      high: bars.map((b) => b.high),
      low: bars.map((b) => b.low),
      close: bars.map((b) => b.close),
      volume: bars.map((b) => b.volume),
    };
    expect(columnCandles(columns)).toEqual(toCandles(bars));
    expect(columnCandles(undefined)).toEqual([]);
  });
});

describe("indicator values", () => {
  it("reads the packed form: nulls for the warm-up and non-numbers, gaps aligned with the times", () => {
    const values = packedNumbers(2, [1.5, Number.NaN, 2.5]);
    expect(values).toEqual([null, null, 1.5, null, 2.5]);
    expect(toLinePoints([10, 20, 30], values)).toEqual([{ time: 10 }, { time: 20 }, { time: 30, value: 1.5 }]);
    expect(packedNumbers(0, [])).toEqual([]);
  });
  it("puts price-like indicators over the candles and oscillators in a pane", () => {
    const closes = [1.1, 1.12, 1.09, 1.11];
    expect(placement([[null, 1.1, 1.105, 1.11]], closes)).toBe("overlay");
    expect(placement([[1.13, 1.14], [1.08, 1.09]], closes)).toBe("overlay");
    expect(placement([[null, 55, 61, 40]], closes)).toBe("pane");
    expect(placement([[0.001, -0.002, 0.0005]], closes)).toBe("pane");
    expect(placement([[null, null]], closes)).toBe("pane");
  });
});

describe("prediction bands", () => {
  const p = {
    horizon: "intraday",
    timeframe: "1h",
    lookaheadBars: 4,
    asOf: ts(36000),
    predictedHigh: 1.2,
    predictedLow: 1.0,
  };
  it("runs from the as-of bar to the end of the lookahead, on the chart's bars", () => {
    const band = predictionBand(p, "1h")!;
    expect(band.high.map((x) => x.time)).toEqual([36000, 39600, 43200, 46800, 50400]);
    expect(band.high.every((x) => x.value === 1.2)).toBe(true);
    expect(band.low.every((x) => x.value === 1.0)).toBe(true);
    expect(band.end).toBe(36000 + 4 * 3600);
  });
  it("follows the chart's timeframe when the horizon's is coarser", () => {
    const band = predictionBand({ ...p, timeframe: "4h", lookaheadBars: 1 }, "1h")!;
    expect(band.low.map((x) => x.time)).toEqual([36000, 39600, 43200, 46800, 50400]);
  });
  it("thins a long horizon on a short timeframe", () => {
    const band = predictionBand({ ...p, timeframe: "1d", lookaheadBars: 60 }, "5m")!;
    expect(band.high.length).toBeLessThanOrEqual(MAX_BAND_POINTS + 1);
    expect(band.high[0].time).toBe(36000);
    expect(band.high[band.high.length - 1].time).toBeGreaterThanOrEqual(band.end);
    const times = band.high.map((x) => x.time);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(new Set(times).size).toBe(times.length);
  });
  it("draws nothing without a range or an as-of bar", () => {
    expect(predictionBand({ ...p, predictedHigh: 0 }, "1h")).toBeNull();
    expect(predictionBand({ ...p, asOf: undefined }, "1h")).toBeNull();
    expect(predictionBand({ ...p, lookaheadBars: 0 }, "1h")).toBeNull();
  });
});

describe("the live stream against the loaded bars", () => {
  const candles = toCandles([bar(3600), bar(7200)]);
  it("appends a newer bar, replaces the last one, and reloads for an earlier one", () => {
    expect(liveStep(candles, 10800)).toBe("append");
    expect(liveStep(candles, 7200)).toBe("replace");
    expect(liveStep(candles, 3600)).toBe("rebase");
    expect(liveStep([], 3600)).toBe("rebase");
  });
  it("draws the candle from the message's own bar", () => {
    const m = { barTime: ts(10800), open: 1.1, high: 1.2, low: 1.05, close: 1.15, volume: 7 };
    expect(liveCandle(m)).toEqual({ time: 10800, open: 1.1, high: 1.2, low: 1.05, close: 1.15, volume: 7 });
    expect(mergeCandles(candles, [liveCandle(m)!]).map((c) => c.time)).toEqual([3600, 7200, 10800]);
  });
  it("has no candle for a message without the bar's range (an older server)", () => {
    expect(liveCandle({ barTime: ts(10800), open: 0, high: 0, low: 0, close: 1.15, volume: 0 })).toBeNull();
    expect(liveCandle({ open: 1, high: 1.2, low: 1, close: 1.1, volume: 1 })).toBeNull();
  });
});

describe("indicator layout", () => {
  it("puts moving averages over the price and oscillators in their own pane", () => {
    const layout = indicatorLayout(
      [100n, 200n, 300n],
      [
        { key: "sma:2", outputs: [{ name: "sma", warmup: 1, packedValues: [1.1, 1.12] }] },
        {
          key: "macd:12,26,9",
          outputs: [
            { name: "macd", warmup: 1, packedValues: [0.001, 0.002] },
            { name: "signal", warmup: 2, packedValues: [0.0015] },
          ],
        },
      ],
      [1.1, 1.11, 1.12],
    );
    expect(layout.overlays.map((l) => l.label)).toEqual(["sma:2"]);
    expect(layout.overlays[0].points).toEqual([{ time: 100 }, { time: 200, value: 1.1 }, { time: 300, value: 1.12 }]);
    expect(layout.panes).toHaveLength(1);
    expect(layout.panes[0].lines.map((l) => l.label)).toEqual(["macd:12,26,9 macd", "macd:12,26,9 signal"]);
  });
});

describe("bands in view and times", () => {
  it("keeps the bands whose as-of bar is loaded", () => {
    const candles = toCandles([bar(3600), bar(7200)]);
    const band = (s: number) => predictionBand({ horizon: `h${s}`, timeframe: "1h", lookaheadBars: 2, asOf: ts(s), predictedHigh: 2, predictedLow: 1 }, "1h")!;
    expect(bandsInView([band(3600), band(7200), band(10800), band(1800)], candles).map((b) => b.horizon)).toEqual(["h3600", "h7200"]);
    expect(bandsInView([band(3600)], [])).toEqual([]);
  });
  it("writes RFC 3339 without fractions", () => {
    expect(rfc3339(86401)).toBe("1970-01-02T00:00:01Z");
  });
});
