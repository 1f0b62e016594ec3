import { STATE_NAMES } from "../models/modelCards";

/** What an admin action showed: success or refusal, in words. */
export interface ActionResult {
  ok: boolean;
  text: string;
}

interface VersionLike {
  version: string;
  state: number;
  reason: string;
  executionProvider: string;
}
interface ModelLike {
  name: string;
  activeVersion: string;
  versions: VersionLike[];
}

/** Versions sorted newest first ("10" after "9": numeric when both are numbers). */
export function sortVersions<T extends { version: string }>(versions: readonly T[]): T[] {
  return [...versions].sort((a, b) => {
    const na = Number(a.version);
    const nb = Number(b.version);
    if (Number.isFinite(na) && Number.isFinite(nb)) return nb - na;
    return b.version.localeCompare(a.version);
  });
}

/** After ActivateModelVersion: "intraday_xgb serves version 2 (ready, CPUExecutionProvider)". */
export function activationText(model: ModelLike | undefined, asked: { name: string; version: string }): ActionResult {
  if (!model) return { ok: false, text: `No answer describing ${asked.name}.` };
  const v = model.versions.find((x) => x.version === model.activeVersion);
  const state = v ? STATE_NAMES[v.state] ?? "unknown" : "unknown";
  const provider = v?.executionProvider ? `, ${v.executionProvider}` : "";
  const reason = v?.reason ? `: ${v.reason}` : "";
  if (model.activeVersion !== asked.version) {
    return {
      ok: false,
      text: `${model.name} still serves version ${model.activeVersion || "none"}; version ${asked.version} was not activated.`,
    };
  }
  return { ok: state === "ready", text: `${model.name} serves version ${model.activeVersion} (${state}${provider})${reason}.` };
}

/** ShadowVerdict (trading.ml.v1) in words; 0 (unspecified) and unknown values: "unknown". */
export const VERDICT_TEXT: Record<number, string> = {
  1: "not enough data",
  2: "no significant difference",
  3: "shadow better",
  4: "shadow worse",
};

export function verdictText(verdict: number): string {
  return VERDICT_TEXT[verdict] ?? "unknown";
}

/** Badge tone of a verdict: better is good news, worse bad, the rest neutral. */
export function verdictTone(verdict: number): "ok" | "bad" | "neutral" {
  return verdict === 3 ? "ok" : verdict === 4 ? "bad" : "neutral";
}

/** A p-value as people read it: "< 0.001" below that, three decimals otherwise; "–" without pairs. */
export function formatPValue(p: number, n: number): string {
  if (n === 0) return "–";
  return p < 0.001 ? "< 0.001" : p.toFixed(3);
}

/** After PromoteShadow: "m serves version 3 (was 2)." */
export function promotionText(res: { name: string; fromVersion: string; activeVersion: string }): ActionResult {
  return { ok: true, text: `${res.name} serves version ${res.activeVersion} (was ${res.fromVersion || "none"}).` };
}

export const IMPORT_SAMPLES = ["EURUSD", "GOOG"] as const;
export const TIMEFRAMES = ["1m", "5m", "15m", "30m", "1h", "4h", "1d"] as const;

export interface ImportDraft {
  source: "sample" | "csv";
  sample: string;
  csv: string;
  symbol: string;
  timeframe: string;
  dryRun: boolean;
}

export type ImportRequestInit =
  | { source: { case: "sample"; value: string }; dryRun: boolean }
  | { source: { case: "csvContent"; value: string }; symbol: string; timeframe: string; dryRun: boolean };

/** The ImportBars request from the form, or the field errors the page shows first. */
export function importRequest(d: ImportDraft): { request?: ImportRequestInit; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  if (d.source === "sample") {
    if (!(IMPORT_SAMPLES as readonly string[]).includes(d.sample)) errors.sample = "Choose a sample data set";
    return Object.keys(errors).length
      ? { errors }
      : { request: { source: { case: "sample", value: d.sample }, dryRun: d.dryRun }, errors };
  }
  const symbol = d.symbol.trim().toUpperCase();
  if (!d.csv.trim()) errors.csv = "Choose a CSV file or paste its rows";
  else if (new Blob([d.csv]).size > 16 * 1024 * 1024) errors.csv = "The file is over 16 MiB";
  if (!symbol) errors.symbol = "Symbol is required for a CSV file";
  else if (!/^[A-Z0-9._-]{1,32}$/.test(symbol)) errors.symbol = "Symbol takes letters, digits, '.', '_' and '-'";
  if (!d.timeframe) errors.timeframe = "Timeframe is required for a CSV file";
  if (Object.keys(errors).length) return { errors };
  return {
    request: { source: { case: "csvContent", value: d.csv }, symbol, timeframe: d.timeframe, dryRun: d.dryRun },
    errors,
  };
}

/** After ImportBars: what happened, in words. */
export function importText(r: {
  symbol: string;
  timeframe: string;
  rowsRead: bigint | number;
  rowsInserted: bigint | number;
  rowsExisting: bigint | number;
  committed: boolean;
}): string {
  const n = (x: bigint | number) => Number(x).toLocaleString("en");
  const what = `${r.symbol} ${r.timeframe}: ${n(r.rowsRead)} rows read, ${n(r.rowsInserted)} new, ${n(r.rowsExisting)} already stored`;
  return r.committed ? `Imported ${what}.` : `Checked only (dry run), nothing stored. ${what}.`;
}
