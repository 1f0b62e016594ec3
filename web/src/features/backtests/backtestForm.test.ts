import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { paramFields } from "../../lib/params";
import { apiFields, DEFAULT_FORM, equityAndDrawdown, readBacktestForm, readSweepGrid, sortTrades, tradeMarkers, type BacktestFormValues } from "./backtestForm";

const fields = paramFields([
  { name: "fast", type: 1, defaultValue: 10, minValue: 2, maxValue: 500, description: "" },
  { name: "slow", type: 1, defaultValue: 20, minValue: 3, maxValue: 1000, description: "" },
]);
const form = (over: Partial<BacktestFormValues> = {}): BacktestFormValues => ({
  ...DEFAULT_FORM,
  strategy: "sma_cross",
  symbol: "EURUSD",
  timeframe: "1h",
  params: { fast: "10", slow: "30" },
  ...over,
});
const ts = (s: number) => timestampFromMs(s * 1000);

describe("reading the backtest form", () => {
  it("builds the request with costs in fractions and the parameters as numbers", () => {
    const { request, errors } = readBacktestForm(
      form({ commissionPct: "0.1", slippagePct: "0.05", positionPct: "50", stopLossPct: "2", takeProfitPct: "", start: "2017-01-01", end: "2017-06-01", walkForwardSplits: "4" }),
      fields,
    );
    expect(errors).toEqual({});
    expect(request).toEqual({
      strategy: "sma_cross",
      symbol: "EURUSD",
      timeframe: "1h",
      startDate: "2017-01-01",
      endDate: "2017-06-01",
      params: { fast: 10, slow: 30 },
      initialCash: 10000,
      commission: 0.001,
      slippage: 0.0005,
      positionSize: 0.5,
      allowShort: true,
      stopLoss: 0.02,
      takeProfit: 0,
      walkForwardSplits: 4,
    });
  });
  it("names every bad field", () => {
    const { request, errors } = readBacktestForm(
      form({ strategy: "", end: "2017-01-01", start: "2017-02-01", initialCash: "-5", commissionPct: "12", positionPct: "0", walkForwardSplits: "1", params: { fast: "1", slow: "x" } }),
      fields,
    );
    expect(request).toBeNull();
    expect(errors).toEqual({
      strategy: "Choose a strategy",
      end: "End must be after the start",
      initialCash: "Starting cash must be a positive amount",
      commissionPct: "Commission must be a percentage from 0 to less than 10",
      positionPct: "Position size must be a percentage from more than 0 to 100",
      walkForwardSplits: "Walk-forward folds must be 0 (none) or a whole number from 2 to 20",
      "param.fast": "Fast must be from 2 to 500",
      "param.slow": "Slow must be a number from 3 to 1000",
    });
  });
  it("maps the API's field names, parameters included, to the form's", () => {
    const map = apiFields(fields);
    expect(map.start_date).toEqual(["start", "Start"]);
    expect(map["params.slow"]).toEqual(["param.slow", "Slow"]);
  });
});

describe("the result", () => {
  it("draws the drawdown from the running peak", () => {
    const { equity, drawdown } = equityAndDrawdown([
      { time: ts(1), equity: 100 },
      { time: ts(2), equity: 120 },
      { time: ts(3), equity: 90 },
      { time: ts(3), equity: 95 },
      { time: ts(4), equity: 130 },
    ]);
    expect(equity.map((p) => p.value)).toEqual([100, 120, 90, 130]);
    expect(drawdown.map((p) => Number(p.value.toFixed(4)))).toEqual([0, 0, -0.25, 0]);
  });
  const trade = (entry: number, exit: number, pnl: number, side = 1) => ({
    side,
    size: 1n,
    entryTime: ts(entry),
    entryPrice: 1,
    exitTime: ts(exit),
    exitPrice: 1,
    pnl,
    returnPct: pnl / 100,
    exitReason: 1,
  });
  it("sorts trades by a column either way, ties in time order", () => {
    const trades = [trade(10, 20, 5), trade(30, 40, -3), trade(50, 60, 5)];
    expect(sortTrades(trades, "pnl", "descending").map((t) => t.entryTime!.seconds)).toEqual([10n, 50n, 30n]);
    expect(sortTrades(trades, "pnl", "ascending").map((t) => t.entryTime!.seconds)).toEqual([30n, 10n, 50n]);
    expect(sortTrades(trades, "entryTime", "descending").map((t) => t.pnl)).toEqual([5, -3, 5]);
  });
  it("marks entries and exits on the candles", () => {
    const markers = tradeMarkers([trade(30, 40, -3, 2), trade(10, 20, 5)]);
    expect(markers.map((m) => [m.time, m.shape, m.tone])).toEqual([
      [10, "arrowUp", "up"],
      [20, "circle", "up"],
      [30, "arrowDown", "down"],
      [40, "circle", "down"],
    ]);
  });
});

describe("sweep grid", () => {
  const fields = [
    { name: "fast", label: "Fast", integer: true, min: 2, max: 200, step: 1, initial: "10", hint: "" },
    { name: "slow", label: "Slow", integer: true, min: 3, max: 500, step: 1, initial: "20", hint: "" },
  ];
  it("reads comma-separated values per parameter, skipping empty ones", () => {
    const { grid, errors } = readSweepGrid({ fast: "5, 10,10 20", slow: "" }, fields);
    expect(errors).toEqual({});
    expect(grid).toEqual([{ name: "fast", values: [5, 10, 20] }]);
  });
  it("names the parameter with a bad value, and refuses an empty or too large grid", () => {
    expect(readSweepGrid({ fast: "5, x" }, fields).errors["sweep.fast"]).toMatch(/whole number from 2 to 200/);
    expect(readSweepGrid({ fast: "1.5" }, fields).grid).toBeNull();
    expect(readSweepGrid({}, fields).errors.sweep).toMatch(/at least one/);
    const many = Array.from({ length: 40 }, (_, i) => i + 3).join(",");
    expect(readSweepGrid({ fast: many, slow: many }, fields).errors.sweep).toMatch(/1600 parameter sets/);
  });
});
