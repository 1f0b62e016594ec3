/**
 * Pure mapping from the API's messages to what the chart draws (unit tested): candles, merging
 * pages of history, indicator series with their gaps, where an indicator goes (over the price or
 * in its own pane), the predicted range of a horizon as a band from its as-of bar forward, and the
 * rule that keeps the live stream and the loaded bars in step.
 */
import type { Timestamp } from "@bufbuild/protobuf/wkt";

/** Seconds since the epoch (UTC), as the chart takes them. */
export type ChartTime = number;

export interface Candle {
  time: ChartTime;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/** A point of a line, or a gap (no value) that keeps the series aligned with the bars. */
export type LinePoint = { time: ChartTime; value: number } | { time: ChartTime };

export const TIMEFRAMES = ["1m", "5m", "15m", "30m", "1h", "4h", "1d"] as const;
export type TimeframeName = (typeof TIMEFRAMES)[number];

const SECONDS: Record<TimeframeName, number> = {
  "1m": 60,
  "5m": 300,
  "15m": 900,
  "30m": 1800,
  "1h": 3600,
  "4h": 14400,
  "1d": 86400,
};

/** The length of a timeframe in seconds; 0 for a name the API does not know. */
export function timeframeSeconds(name: string): number {
  return (SECONDS as Record<string, number>)[name] ?? 0;
}

/** The timeframes a symbol stored at `base` can be shown at (the base and coarser, resampled). */
export function timeframesFrom(base: string): TimeframeName[] {
  const b = timeframeSeconds(base);
  if (!b) return [...TIMEFRAMES];
  return TIMEFRAMES.filter((t) => SECONDS[t] >= b && SECONDS[t] % b === 0);
}

/** The timeframes the signal and the live stream are computed on. */
export const LIVE_TIMEFRAMES: readonly string[] = ["5m", "15m", "1h"];

export function toChartTime(ts: Timestamp | undefined): ChartTime {
  return ts ? Number(ts.seconds) : 0;
}

/** Anything shaped like the API's Bar. */
export interface BarLike {
  time?: Timestamp;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

export function toCandle(bar: BarLike): Candle {
  return { time: toChartTime(bar.time), open: bar.open, high: bar.high, low: bar.low, close: bar.close, volume: bar.volume };
}

/** Bars (oldest first) as candles, without duplicates, strictly ascending (the chart requires it). */
export function toCandles(bars: readonly BarLike[]): Candle[] {
  return mergeCandles([], bars.map(toCandle));
}

/** Anything shaped like the API's BarColumns (GetHistory's packed form). */
export interface BarColumnsLike {
  timeSeconds: readonly bigint[];
  open: readonly number[];
  high: readonly number[];
  low: readonly number[];
  close: readonly number[];
  volume: readonly number[];
}

/** GetHistory's packed columns as candles, like toCandles for bars; none when absent. */
export function columnCandles(c: BarColumnsLike | undefined): Candle[] {
  if (!c) return [];
  const candles: Candle[] = [];
  for (let i = 0; i < c.timeSeconds.length; i++) {
    candles.push({ time: Number(c.timeSeconds[i]), open: c.open[i], high: c.high[i], low: c.low[i], close: c.close[i], volume: c.volume[i] });
  }
  return mergeCandles([], candles);
}

/**
 * Two runs of candles as one ascending run; where both have a bar at the same time the newer
 * run (`incoming`) wins (a bar that was still forming).
 */
export function mergeCandles(existing: readonly Candle[], incoming: readonly Candle[]): Candle[] {
  const byTime = new Map<number, Candle>();
  for (const c of existing) byTime.set(c.time, c);
  for (const c of incoming) byTime.set(c.time, c);
  return [...byTime.values()].sort((a, b) => a.time - b.time);
}

/**
 * An output in GetIndicators' packed form as one value per bar: null for the `warmup` leading
 * bars and for anything not a finite number.
 */
export function packedNumbers(warmup: number, values: readonly number[]): (number | null)[] {
  const out: (number | null)[] = new Array<number | null>(Math.max(0, warmup)).fill(null);
  for (const v of values) out.push(Number.isFinite(v) ? v : null);
  return out;
}

/** An indicator output aligned with its times: gaps where the value is missing. */
export function toLinePoints(times: readonly ChartTime[], values: readonly (number | null)[]): LinePoint[] {
  const n = Math.min(times.length, values.length);
  const points: LinePoint[] = [];
  for (let i = 0; i < n; i++) {
    const v = values[i];
    points.push(v === null || v === undefined ? { time: times[i] } : { time: times[i], value: v });
  }
  return points;
}

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Whether an indicator is drawn over the candles (it is in price units: moving averages, bands,
 * VWAP) or in a pane of its own (oscillators, volumes). Decided by the values: every output's
 * median within a factor 1.5 of the closes' median puts it on the price.
 */
export function placement(outputs: readonly (readonly (number | null)[])[], closes: readonly number[]): "overlay" | "pane" {
  const price = median(closes.filter((c) => Number.isFinite(c)));
  if (!Number.isFinite(price) || price <= 0) return "pane";
  for (const values of outputs) {
    const m = median(values.filter((v): v is number => v !== null));
    if (!Number.isFinite(m) || m <= 0 || m / price > 1.5 || price / m > 1.5) return "pane";
  }
  return "overlay";
}

/** Anything shaped like the API's HorizonPrediction. */
export interface PredictionLike {
  horizon: string;
  timeframe: string;
  lookaheadBars: number;
  asOf?: Timestamp;
  predictedHigh: number;
  predictedLow: number;
}

export interface Band {
  horizon: string;
  high: { time: ChartTime; value: number }[];
  low: { time: ChartTime; value: number }[];
  /** Where the range ends: the as-of bar plus the lookahead of the horizon's timeframe. */
  end: ChartTime;
}

/** Most points a band adds to the time axis (a long horizon on a short timeframe is thinned). */
export const MAX_BAND_POINTS = 240;

/**
 * The predicted range of a horizon as two flat lines from the as-of bar to the end of its
 * lookahead, with a point on every bar of the chart's timeframe (so the future bars line up with
 * the candles), thinned to at most MAX_BAND_POINTS; null when the prediction has no range.
 */
export function predictionBand(p: PredictionLike, chartTimeframe: string): Band | null {
  const start = toChartTime(p.asOf);
  const horizonStep = timeframeSeconds(p.timeframe);
  const chartStep = timeframeSeconds(chartTimeframe) || horizonStep;
  if (!start || !horizonStep || !chartStep || p.lookaheadBars <= 0) return null;
  if (!(p.predictedHigh > 0) || !(p.predictedLow > 0)) return null;
  const end = start + p.lookaheadBars * horizonStep;
  const steps = Math.ceil((end - start) / chartStep);
  const stride = Math.max(1, Math.ceil(steps / (MAX_BAND_POINTS - 1)));
  const times: ChartTime[] = [];
  for (let i = 0; i <= steps; i += stride) times.push(start + i * chartStep);
  if (times[times.length - 1] < end) times.push(Math.min(start + steps * chartStep, end + chartStep));
  return {
    horizon: p.horizon,
    end,
    high: times.map((time) => ({ time, value: p.predictedHigh })),
    low: times.map((time) => ({ time, value: p.predictedLow })),
  };
}

/** What to do with the loaded candles when the live stream reports a closed bar at `time`. */
export type LiveStep = "append" | "replace" | "rebase";

/**
 * A bar after the last one is appended, the last one again is replaced; a bar before it means the
 * feed is elsewhere in time (a replay that started over, or a chart scrolled back to old data):
 * the chart reloads the history ending at that bar ("rebase").
 */
export function liveStep(candles: readonly Candle[], time: ChartTime): LiveStep {
  const last = candles[candles.length - 1];
  if (!last) return "rebase";
  if (time > last.time) return "append";
  return time === last.time ? "replace" : "rebase";
}

/** Anything shaped like the stream's StreamPredictionsResponse: the bar that just closed. */
export interface LiveBarLike {
  barTime?: Timestamp;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/**
 * The candle of a live message (the stream carries its whole bar); null when the message has no
 * bar range (a server from before the stream carried open/high/low), so the chart reads it instead.
 */
export function liveCandle(m: LiveBarLike): Candle | null {
  const time = toChartTime(m.barTime);
  if (!time || !(m.high > 0) || m.low > m.high) return null;
  return { time, open: m.open, high: m.high, low: m.low, close: m.close, volume: m.volume };
}

/** Anything shaped like the API's IndicatorSeries (packed form). */
export interface IndicatorSeriesLike {
  key: string;
  outputs: { name: string; warmup: number; packedValues: readonly number[] }[];
}

export interface IndicatorLine {
  key: string;
  label: string;
  points: LinePoint[];
}

export interface IndicatorLayout {
  overlays: IndicatorLine[];
  panes: { key: string; lines: IndicatorLine[] }[];
}

/**
 * GetIndicators' answer as lines: price-like indicators over the candles, every other indicator
 * in a pane of its own (all its outputs together, as MACD's line, signal and histogram).
 */
export function indicatorLayout(
  timeSeconds: readonly bigint[],
  series: readonly IndicatorSeriesLike[],
  closes: readonly number[],
): IndicatorLayout {
  const t = timeSeconds.map(Number);
  const layout: IndicatorLayout = { overlays: [], panes: [] };
  for (const s of series) {
    const outputs = s.outputs.map((o) => ({ name: o.name, values: packedNumbers(o.warmup, o.packedValues) }));
    const lines = outputs.map((o) => ({
      key: `${s.key}/${o.name}`,
      label: outputs.length > 1 ? `${s.key} ${o.name}` : s.key,
      points: toLinePoints(t, o.values),
    }));
    if (placement(outputs.map((o) => o.values), closes) === "overlay") layout.overlays.push(...lines);
    else layout.panes.push({ key: s.key, lines });
  }
  return layout;
}

/** Bands whose as-of bar is among the loaded candles (a live replay may show another period). */
export function bandsInView(bands: readonly Band[], candles: readonly Candle[]): Band[] {
  if (candles.length === 0) return [];
  const first = candles[0].time;
  const last = candles[candles.length - 1].time;
  return bands.filter((b) => b.high.length > 0 && b.high[0].time >= first && b.high[0].time <= last);
}

/** RFC 3339 without fractions, for the API's start/end fields. */
export function rfc3339(seconds: ChartTime): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}
