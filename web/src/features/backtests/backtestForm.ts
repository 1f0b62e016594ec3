/**
 * The backtest form as pure functions (unit tested): its fields and defaults, reading them into a
 * RunBacktestRequest (costs and stops typed in percent, sent as fractions), the API's field names
 * for its violations, and the result's pieces the page draws: drawdown, sorted trades, markers.
 */
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { type ParamField, parseParams } from "../../lib/params";
import { type ChartTime, toChartTime } from "../market/chartData";

export interface BacktestFormValues {
  strategy: string;
  symbol: string;
  timeframe: string;
  /** YYYY-MM-DD or empty (the first stored bar). */
  start: string;
  /** YYYY-MM-DD or empty (after the last stored bar); exclusive. */
  end: string;
  initialCash: string;
  /** Percent of traded value, each side. */
  commissionPct: string;
  /** Percent of the fill price. */
  slippagePct: string;
  /** Percent of equity per position. */
  positionPct: string;
  allowShort: boolean;
  /** Percent from the entry; 0 or empty: none. */
  stopLossPct: string;
  takeProfitPct: string;
  walkForwardSplits: string;
  params: Record<string, string>;
}

export const DEFAULT_FORM: Omit<BacktestFormValues, "strategy" | "symbol" | "timeframe" | "params"> = {
  start: "",
  end: "",
  initialCash: "10000",
  commissionPct: "0",
  slippagePct: "0",
  positionPct: "100",
  allowShort: true,
  stopLossPct: "0",
  takeProfitPct: "0",
  walkForwardSplits: "0",
};

/** The request's fields, as the generated RunBacktestRequest takes them. */
export interface BacktestRequestInit {
  strategy: string;
  symbol: string;
  timeframe: string;
  startDate: string;
  endDate: string;
  params: Record<string, number>;
  initialCash: number;
  commission: number;
  slippage: number;
  positionSize: number;
  allowShort: boolean;
  stopLoss: number;
  takeProfit: number;
  walkForwardSplits: number;
}

export type FormErrors = Record<string, string>;

/** The form's field names for the API's ones (violations go next to their field); params are "param.<name>". */
export function apiFields(paramFields: readonly ParamField[]): Record<string, readonly [string, string]> {
  const fields: Record<string, readonly [string, string]> = {
    strategy: ["strategy", "Strategy"],
    symbol: ["symbol", "Symbol"],
    timeframe: ["timeframe", "Timeframe"],
    start_date: ["start", "Start"],
    end_date: ["end", "End"],
    initial_cash: ["initialCash", "Starting cash"],
    commission: ["commissionPct", "Commission"],
    slippage: ["slippagePct", "Slippage"],
    position_size: ["positionPct", "Position size"],
    stop_loss: ["stopLossPct", "Stop-loss"],
    take_profit: ["takeProfitPct", "Take-profit"],
    walk_forward_splits: ["walkForwardSplits", "Walk-forward folds"],
  };
  for (const f of paramFields) fields[`params.${f.name}`] = [`param.${f.name}`, f.label];
  return fields;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

function percent(
  raw: string,
  label: string,
  { min, max, minExclusive = false, maxExclusive = false, empty }: { min: number; max: number; minExclusive?: boolean; maxExclusive?: boolean; empty: number },
): number | string {
  const text = raw.trim();
  if (text === "") return empty / 100;
  const v = Number(text);
  const low = minExclusive ? v <= min : v < min;
  const high = maxExclusive ? v >= max : v > max;
  if (!Number.isFinite(v) || low || high) {
    const from = minExclusive ? `more than ${min}` : `${min}`;
    const to = maxExclusive ? `less than ${max}` : `${max}`;
    return `${label} must be a percentage from ${from} to ${to}`;
  }
  return v / 100;
}

/** Reads the form; `errors` is keyed by the form's field names (params as "param.<name>"). */
export function readBacktestForm(
  form: BacktestFormValues,
  paramFields: readonly ParamField[],
): { request: BacktestRequestInit | null; errors: FormErrors } {
  const errors: FormErrors = {};
  if (!form.strategy) errors.strategy = "Choose a strategy";
  if (!form.symbol) errors.symbol = "Choose a symbol";
  if (form.start && !DATE.test(form.start)) errors.start = "Start must be a date (YYYY-MM-DD)";
  if (form.end && !DATE.test(form.end)) errors.end = "End must be a date (YYYY-MM-DD)";
  if (!errors.start && !errors.end && form.start && form.end && form.end <= form.start) errors.end = "End must be after the start";

  const cashText = form.initialCash.trim();
  const cash = cashText === "" ? 10_000 : Number(cashText);
  if (!Number.isFinite(cash) || cash <= 0) errors.initialCash = "Starting cash must be a positive amount";

  const costs = {
    commission: percent(form.commissionPct, "Commission", { min: 0, max: 10, maxExclusive: true, empty: 0 }),
    slippage: percent(form.slippagePct, "Slippage", { min: 0, max: 10, maxExclusive: true, empty: 0 }),
    positionSize: percent(form.positionPct, "Position size", { min: 0, max: 100, minExclusive: true, empty: 100 }),
    stopLoss: percent(form.stopLossPct, "Stop-loss", { min: 0, max: 100, maxExclusive: true, empty: 0 }),
    takeProfit: percent(form.takeProfitPct, "Take-profit", { min: 0, max: 100, maxExclusive: true, empty: 0 }),
  };
  const costField = {
    commission: "commissionPct",
    slippage: "slippagePct",
    positionSize: "positionPct",
    stopLoss: "stopLossPct",
    takeProfit: "takeProfitPct",
  } as const;
  for (const [k, v] of Object.entries(costs)) if (typeof v === "string") errors[costField[k as keyof typeof costField]] = v;

  const splitsText = form.walkForwardSplits.trim();
  const splits = splitsText === "" ? 0 : Number(splitsText);
  if (!Number.isInteger(splits) || (splits !== 0 && (splits < 2 || splits > 20))) {
    errors.walkForwardSplits = "Walk-forward folds must be 0 (none) or a whole number from 2 to 20";
  }

  const parsed = parseParams(paramFields, form.params);
  for (const [name, message] of Object.entries(parsed.errors)) errors[`param.${name}`] = message;

  if (Object.keys(errors).length > 0) return { request: null, errors };
  return {
    request: {
      strategy: form.strategy,
      symbol: form.symbol,
      timeframe: form.timeframe,
      startDate: form.start,
      endDate: form.end,
      params: parsed.values,
      initialCash: cash,
      commission: costs.commission as number,
      slippage: costs.slippage as number,
      positionSize: costs.positionSize as number,
      allowShort: form.allowShort,
      stopLoss: costs.stopLoss as number,
      takeProfit: costs.takeProfit as number,
      walkForwardSplits: splits,
    },
    errors,
  };
}

/** Anything shaped like the API's EquityPoint. */
export interface EquityPointLike {
  time?: Timestamp;
  equity: number;
}

export interface CurvePoint {
  time: ChartTime;
  value: number;
}

/** The equity curve and its drawdown from the running peak (a fraction, 0 or negative). */
export function equityAndDrawdown(points: readonly EquityPointLike[]): { equity: CurvePoint[]; drawdown: CurvePoint[] } {
  const equity: CurvePoint[] = [];
  const drawdown: CurvePoint[] = [];
  let peak = Number.NEGATIVE_INFINITY;
  let lastTime = Number.NEGATIVE_INFINITY;
  for (const p of points) {
    const time = toChartTime(p.time);
    if (time <= lastTime) continue; // the chart needs strictly ascending times
    lastTime = time;
    peak = Math.max(peak, p.equity);
    equity.push({ time, value: p.equity });
    drawdown.push({ time, value: peak > 0 ? p.equity / peak - 1 : 0 });
  }
  return { equity, drawdown };
}

/** Anything shaped like the API's Trade. */
export interface TradeLike {
  side: number;
  size: bigint;
  entryTime?: Timestamp;
  entryPrice: number;
  exitTime?: Timestamp;
  exitPrice: number;
  pnl: number;
  returnPct: number;
  exitReason: number;
}

export type TradeSortKey = "entryTime" | "exitTime" | "side" | "pnl" | "returnPct" | "exitReason";
export type SortDirection = "ascending" | "descending";

function sortValue(t: TradeLike, key: TradeSortKey): number {
  switch (key) {
    case "entryTime":
      return toChartTime(t.entryTime);
    case "exitTime":
      return toChartTime(t.exitTime);
    default:
      return t[key];
  }
}

/** A sorted copy; ties keep their time order. */
export function sortTrades<T extends TradeLike>(trades: readonly T[], key: TradeSortKey, direction: SortDirection): T[] {
  const sign = direction === "ascending" ? 1 : -1;
  return trades
    .map((t, i) => ({ t, i }))
    .sort((a, b) => sign * (sortValue(a.t, key) - sortValue(b.t, key)) || a.i - b.i)
    .map((x) => x.t);
}

/** TradeSide: 1 long, 2 short. */
export const SIDE_LONG = 1;

export interface TradeMarker {
  time: ChartTime;
  position: "aboveBar" | "belowBar";
  shape: "arrowUp" | "arrowDown" | "circle";
  tone: "up" | "down" | "neutral";
  text: string;
}

/**
 * Each trade as two markers on the candles: the entry (an arrow up below the bar for a long, down
 * above it for a short) and the exit (a circle, coloured by the trade's result); ascending times.
 */
export function tradeMarkers(trades: readonly TradeLike[]): TradeMarker[] {
  const markers: TradeMarker[] = [];
  for (const t of trades) {
    const long = t.side === SIDE_LONG;
    markers.push({
      time: toChartTime(t.entryTime),
      position: long ? "belowBar" : "aboveBar",
      shape: long ? "arrowUp" : "arrowDown",
      tone: long ? "up" : "down",
      text: long ? "Long" : "Short",
    });
    markers.push({
      time: toChartTime(t.exitTime),
      position: long ? "aboveBar" : "belowBar",
      shape: "circle",
      tone: t.pnl >= 0 ? "up" : "down",
      text: "Exit",
    });
  }
  return markers.filter((m) => m.time > 0).sort((a, b) => a.time - b.time);
}

/** Parameter sets a sweep may run in one request (the API's limit). */
export const MAX_SWEEP_SETS = 1000;

/**
 * A sweep's grid from one text per parameter ("5, 10, 20"; empty: not swept). Errors keyed
 * `sweep.<name>` (a value that is not a number or outside the catalogue's bounds), or `sweep`
 * when nothing is swept or the grid is over MAX_SWEEP_SETS sets.
 */
export function readSweepGrid(
  texts: Record<string, string>,
  paramFields: readonly ParamField[],
): { grid: { name: string; values: number[] }[] | null; errors: FormErrors } {
  const errors: FormErrors = {};
  const grid: { name: string; values: number[] }[] = [];
  for (const f of paramFields) {
    const text = (texts[f.name] ?? "").trim();
    if (!text) continue;
    const values = text.split(/[\s,;]+/).filter(Boolean).map(Number);
    const bad = values.find((v) => !Number.isFinite(v) || v < f.min || v > f.max || (f.integer && !Number.isInteger(v)));
    if (bad !== undefined) {
      errors[`sweep.${f.name}`] = `${f.label}: each value must be ${f.integer ? "a whole number" : "a number"} from ${f.min} to ${f.max}`;
      continue;
    }
    grid.push({ name: f.name, values: [...new Set(values)] });
  }
  const sets = grid.reduce((n, g) => n * g.values.length, 1);
  if (Object.keys(errors).length === 0 && grid.length === 0) errors.sweep = "Give values for at least one parameter";
  else if (sets > MAX_SWEEP_SETS) errors.sweep = `${sets} parameter sets; at most ${MAX_SWEEP_SETS}`;
  return { grid: Object.keys(errors).length ? null : grid, errors };
}
