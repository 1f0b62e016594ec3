/**
 * The state of the live-block forms in the course editor, kept pure so it is tested without a
 * browser: new blocks of each kind, moving and removing them, the text forms of the fields that
 * are not plain strings (indicators, parameters, the forecast's window end), and the server's
 * field violations (`content.modules[0].lessons[1].blocks[2].symbol`) placed on their block field.
 */
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { BadRequestSchema } from "@gen/google/rpc/error_details_pb";
import {
  ChartBlockSchema,
  ForecastBlockSchema,
  LessonBlockSchema,
  SignalBlockSchema,
  TryItBlockSchema,
  type LessonBlock,
} from "@gen/trading/education/v1/education_pb";
import { ConnectError } from "@connectrpc/connect";

export type BlockKind = "chart" | "signal" | "tryIt" | "forecast";

export const BLOCK_KINDS: ReadonlyArray<{ value: BlockKind; label: string }> = [
  { value: "chart", label: "Chart" },
  { value: "signal", label: "Signal" },
  { value: "tryIt", label: "Try it (backtest)" },
  { value: "forecast", label: "Forecast exercise" },
];

export function blockKindLabel(kind: string | undefined): string {
  return BLOCK_KINDS.find((k) => k.value === kind)?.label ?? "Block";
}

/** A new block of a kind, with the sample data's symbol and timeframe filled in (id left to the server). */
export function newBlock(kind: BlockKind, symbol = "EURUSD", timeframe = "1h"): LessonBlock {
  switch (kind) {
    case "chart":
      return create(LessonBlockSchema, { kind: { case: "chart", value: create(ChartBlockSchema, { symbol, timeframe }) } });
    case "signal":
      return create(LessonBlockSchema, { kind: { case: "signal", value: create(SignalBlockSchema, { symbol, timeframe }) } });
    case "tryIt":
      return create(LessonBlockSchema, { kind: { case: "tryIt", value: create(TryItBlockSchema, { symbol, timeframe, commission: 0.001 }) } });
    case "forecast":
      return create(LessonBlockSchema, { kind: { case: "forecast", value: create(ForecastBlockSchema, { symbol, timeframe, windowBars: 60, horizonBars: 5 }) } });
  }
}

/** The blocks with block `i` moved by `delta` places (unchanged when it would leave the list). */
export function moveBlock<T>(blocks: readonly T[], i: number, delta: number): T[] {
  const j = i + delta;
  if (i < 0 || i >= blocks.length || j < 0 || j >= blocks.length) return [...blocks];
  const out = [...blocks];
  [out[i], out[j]] = [out[j]!, out[i]!];
  return out;
}

export function removeBlock<T>(blocks: readonly T[], i: number): T[] {
  return blocks.filter((_, j) => j !== i);
}

export function replaceBlock<T>(blocks: readonly T[], i: number, block: T): T[] {
  return blocks.map((b, j) => (j === i ? block : b));
}

/** "rsi:14, macd  atr" -> ["rsi:14", "macd", "atr"] (commas or spaces separate). */
export function readList(text: string): string[] {
  return text.split(/[\s,]+/).filter(Boolean);
}

/** {fast: 10, slow: 30} -> "fast=10, slow=30". */
export function paramsText(params: Record<string, number>): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
}

/** "fast=10, slow=30" -> the map, and the pieces that are not name=number (shown to the author). */
export function readParams(text: string): { params: Record<string, number>; bad: string[] } {
  const params: Record<string, number> = {};
  const bad: string[] = [];
  for (const piece of text.split(/[,\n]+/).map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z_][\w]*)\s*=\s*(\S+)$/.exec(piece);
    const value = m ? Number(m[2]) : NaN;
    if (m && Number.isFinite(value)) params[m[1]!] = value;
    else bad.push(piece);
  }
  return { params, bad };
}

/** The window end as the author types it (RFC 3339, UTC). */
export function timeText(ts: Timestamp | undefined): string {
  return ts ? timestampDate(ts).toISOString().replace(".000Z", "Z") : "";
}

/** RFC 3339 or YYYY-MM-DD (UTC midnight) -> a Timestamp; undefined when it is not a time. */
export function readTime(text: string): Timestamp | undefined {
  const t = text.trim();
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(t)) return undefined;
  const zoned = /^\d{4}-\d{2}-\d{2}$/.test(t) ? `${t}T00:00:00Z` : /(Z|[+-]\d{2}:?\d{2})$/.test(t) ? t : `${t}Z`;
  const date = new Date(zoned.replace(" ", "T"));
  return Number.isNaN(date.getTime()) ? undefined : timestampFromDate(date);
}

/** Block field violations: key `${module}.${lesson}.${block}` -> proto field name (indicators[1] -> indicators) -> text. */
export type BlockErrors = Record<string, Record<string, string>>;

const BLOCK_FIELD = /^content\.modules\[(\d+)\]\.lessons\[(\d+)\]\.blocks\[(\d+)\]\.([a-z_]+)(?:\[([^\]]*)\])?/;

export function blockKey(module: number, lesson: number, block: number): string {
  return `${module}.${lesson}.${block}`;
}

/** Places violations (field path, description) on their block fields; the first per field wins. */
export function placeBlockViolations(violations: ReadonlyArray<{ field: string; description: string }>): BlockErrors {
  const out: BlockErrors = {};
  for (const v of violations) {
    const m = BLOCK_FIELD.exec(v.field);
    if (!m) continue;
    const key = blockKey(Number(m[1]), Number(m[2]), Number(m[3]));
    const field = m[4]!;
    const fields = (out[key] ??= {});
    if (field in fields) continue;
    const which = m[5] !== undefined && field === "params" ? `${m[5]} ` : "";
    fields[field] = `${which}${v.description}`.trim();
  }
  return out;
}

/** The block violations a refused save carries (none for other errors). */
export function blockErrorsOf(err: unknown): BlockErrors {
  if (!err) return {};
  const details = ConnectError.from(err).findDetails(BadRequestSchema);
  return placeBlockViolations(details.flatMap((d) => d.fieldViolations));
}
