import { AlertKind, AlertRuleSchema, CrossDirection, SignalSide } from "@gen/trading/alerts/v1/alert_service_pb";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { describeRule } from "./alertText";

describe("describeRule", () => {
  it("says what each kind waits for", () => {
    const base = { symbol: "EURUSD", timeframe: "1h" };
    expect(describeRule(create(AlertRuleSchema, { ...base, kind: AlertKind.SIGNAL, side: SignalSide.ANY, minConfidence: 0.7 }))).toBe(
      "EURUSD 1h: signal turns BUY or SELL with confidence ≥ 70%",
    );
    expect(describeRule(create(AlertRuleSchema, { ...base, kind: AlertKind.PRICE_CROSS, level: 1.1, direction: CrossDirection.DOWN }))).toBe(
      "EURUSD 1h: price crosses 1.1 downwards",
    );
    expect(describeRule(create(AlertRuleSchema, { ...base, kind: AlertKind.RANGE_EXIT }))).toBe("EURUSD 1h: price leaves the predicted range");
  });
});
