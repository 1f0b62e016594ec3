import { AlertKind, type AlertRule, CrossDirection, SignalSide } from "@gen/trading/alerts/v1/alert_service_pb";

export const KIND_OPTIONS = [
  { value: String(AlertKind.SIGNAL), label: "Signal turns BUY or SELL" },
  { value: String(AlertKind.PRICE_CROSS), label: "Price crosses a level" },
  { value: String(AlertKind.RANGE_EXIT), label: "Price leaves the predicted range" },
] as const;

export const SIDE_OPTIONS = [
  { value: String(SignalSide.BUY), label: "BUY" },
  { value: String(SignalSide.SELL), label: "SELL" },
  { value: String(SignalSide.ANY), label: "BUY or SELL" },
] as const;

export const DIRECTION_OPTIONS = [
  { value: String(CrossDirection.UP), label: "upwards" },
  { value: String(CrossDirection.DOWN), label: "downwards" },
  { value: String(CrossDirection.ANY), label: "either way" },
] as const;

const label = (options: ReadonlyArray<{ value: string; label: string }>, value: number) =>
  options.find((o) => o.value === String(value))?.label ?? "?";

/** One line a person can read, for example "EURUSD 1h: price crosses 1.1 upwards". */
export function describeRule(rule: AlertRule): string {
  const where = `${rule.symbol} ${rule.timeframe}`;
  switch (rule.kind) {
    case AlertKind.SIGNAL:
      return `${where}: signal turns ${label(SIDE_OPTIONS, rule.side)} with confidence ≥ ${Math.round(rule.minConfidence * 100)}%`;
    case AlertKind.PRICE_CROSS:
      return `${where}: price crosses ${rule.level} ${label(DIRECTION_OPTIONS, rule.direction)}`;
    case AlertKind.RANGE_EXIT:
      return `${where}: price leaves the predicted range`;
    default:
      return where;
  }
}
