import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { timestampDate as toDate, timestampFromDate } from "@bufbuild/protobuf/wkt";

/** A protobuf Timestamp as a Date; undefined for none (or the zero time). */
export function timestampDate(ts: Timestamp | undefined): Date | undefined {
  if (!ts || (ts.seconds === 0n && ts.nanos === 0)) return undefined;
  return toDate(ts);
}

/** A datetime-local input's value ("2026-11-29T14:05") as a Timestamp; undefined when empty or bad. */
export function timestampFromLocalInput(value: string): Timestamp | undefined {
  if (!value) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : timestampFromDate(date);
}
