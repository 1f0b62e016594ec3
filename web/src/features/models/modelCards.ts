/**
 * What the models page shows, as pure functions (unit tested): the figures of a model card next
 * to its baseline's, each metric formatted for its kind, and the live scores of a horizon's
 * ensemble compared with the card's held-out figures.
 */
import { formatPercent, formatRatio } from "../../lib/marketFormat";

export const HORIZON_ORDER = ["scalping", "intraday", "swing", "position"];

/** "MODEL_STATE_READY" / 3 -> "ready". */
export const STATE_NAMES: Record<number, string> = {
  0: "unknown",
  1: "available",
  2: "loading",
  3: "ready",
  4: "degraded",
  5: "failed",
};

export function stateTone(state: number): "ok" | "warn" | "bad" | "neutral" {
  if (state === 3) return "ok";
  if (state === 4 || state === 2) return "warn";
  if (state === 5) return "bad";
  return "neutral";
}

/** A metric as people read it: shares in percent, errors already in percent, scores as ratios. */
export function formatMetric(name: string, value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return "–";
  if (name.startsWith("beats_")) return value >= 1 ? "yes" : "no";
  if (name === "test_rows" || name.endsWith("_rows")) return String(Math.round(value));
  if (/mae.*pct/.test(name)) return `${value.toFixed(3)} %`;
  if (/coverage|rate|prob/.test(name)) return formatPercent(value, 1);
  return formatRatio(value, 3);
}

/** "tp_long_auc" -> "TP long AUC". */
export function metricLabel(name: string): string {
  const words: Record<string, string> = { tp: "TP", auc: "AUC", mae: "MAE", pct: "%", prob: "probability", log: "log" };
  const text = name
    .split("_")
    .map((w) => words[w] ?? w)
    .join(" ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export interface CardRow {
  name: string;
  label: string;
  model: string;
  baseline: string;
  /** Whether the model does better than the baseline on this metric (undefined: not comparable). */
  better?: boolean;
}

const LOWER_IS_BETTER = /mae|brier|log_loss/;
const HIGHER_IS_BETTER = /auc/;

/**
 * The card's metrics with the baseline's figure beside each (where the baseline has one), the
 * comparable ones first in name order, then the rest (counts, flags).
 */
export function cardRows(metrics: Record<string, number>, baseline: Record<string, number>): CardRow[] {
  const rows = Object.keys(metrics).map((name): CardRow => {
    const m = metrics[name];
    const b = baseline[name];
    let better: boolean | undefined;
    if (b !== undefined && LOWER_IS_BETTER.test(name)) better = m < b;
    else if (b !== undefined && HIGHER_IS_BETTER.test(name)) better = m > b;
    return { name, label: metricLabel(name), model: formatMetric(name, m), baseline: b === undefined ? "–" : formatMetric(name, b), better };
  });
  const rank = (r: CardRow) => (r.baseline !== "–" ? 0 : r.name.startsWith("beats_") || r.name.endsWith("_rows") ? 2 : 1);
  return rows.sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
}

/** Anything shaped like the API's PredictionScore. */
export interface ScoreLike {
  realized: bigint;
  coverage: number;
  maePct: number;
  tpHitRate: number;
  cardCoverage: number;
  cardMaePct: number;
  cardTpHitRate: number;
}

/** Outcomes needed before live figures say anything. */
export const MIN_REALIZED = 10;

export type Verdict = "too few outcomes" | "in line with the card" | "worse than the card" | "better than the card";

/**
 * Live figures against the card's: worse when coverage falls under four fifths of the card's or
 * the error grows over five quarters of it, better when the reverse; too few outcomes below
 * MIN_REALIZED.
 */
export function verdict(s: ScoreLike): Verdict {
  if (s.realized < BigInt(MIN_REALIZED)) return "too few outcomes";
  const worse = (s.cardCoverage > 0 && s.coverage < 0.8 * s.cardCoverage) || (s.cardMaePct > 0 && s.maePct > 1.25 * s.cardMaePct);
  if (worse) return "worse than the card";
  const better = s.cardMaePct > 0 && s.maePct < 0.8 * s.cardMaePct && s.coverage >= s.cardCoverage;
  return better ? "better than the card" : "in line with the card";
}

/** Live and card figure of one score, e.g. "12.0 % (card 9.9 %)"; "–" live before any outcome. */
export function liveVsCard(kind: "coverage" | "mae" | "hit", s: ScoreLike): { live: string; card: string } {
  const none = s.realized === 0n;
  switch (kind) {
    case "coverage":
      return { live: none ? "–" : formatPercent(s.coverage, 1), card: formatPercent(s.cardCoverage, 1) };
    case "mae":
      return { live: none ? "–" : formatMetric("mae_pct", s.maePct), card: formatMetric("mae_pct", s.cardMaePct) };
    case "hit":
      return { live: none ? "–" : formatPercent(s.tpHitRate, 1), card: formatPercent(s.cardTpHitRate, 1) };
  }
}

/** Horizons in their natural order (unknown ones last, by name). */
export function sortHorizons(horizons: Iterable<string>): string[] {
  const rank = (h: string) => {
    const i = HORIZON_ORDER.indexOf(h);
    return i < 0 ? HORIZON_ORDER.length : i;
  };
  return [...new Set(horizons)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}
