import { describe, expect, it } from "vitest";
import { cardRows, formatMetric, liveVsCard, metricLabel, sortHorizons, stateTone, verdict } from "./modelCards";

describe("model card figures", () => {
  it("formats each kind of metric", () => {
    expect(formatMetric("coverage", 0.0828)).toBe("8.3 %");
    expect(formatMetric("tp_long_base_rate", 0.3479)).toBe("34.8 %");
    expect(formatMetric("mae_pct", 0.12010049)).toBe("0.120 %");
    expect(formatMetric("mae_high_pct", 0.126874)).toBe("0.127 %");
    expect(formatMetric("tp_long_auc", 0.5717)).toBe("0.572");
    expect(formatMetric("test_rows", 1992)).toBe("1992");
    expect(formatMetric("beats_range", 1)).toBe("yes");
    expect(formatMetric("auc", Number.NaN)).toBe("–");
    expect(metricLabel("tp_long_auc")).toBe("TP long AUC");
  });
  it("puts the baseline beside the model, comparable figures first, and says which is better", () => {
    const rows = cardRows(
      { auc: 0.58, brier: 0.2265, test_rows: 1992, beats_tp_long: 1, mean_prob: 0.303 },
      { auc: 0.5, brier: 0.2283, log_loss: 0.65 },
    );
    expect(rows.map((r) => r.name)).toEqual(["auc", "brier", "mean_prob", "beats_tp_long", "test_rows"]);
    expect(rows[0]).toMatchObject({ model: "0.580", baseline: "0.500", better: true });
    expect(rows[1]).toMatchObject({ better: true });
    expect(rows[2]).toMatchObject({ baseline: "–", better: undefined });
  });
  it("tones states", () => {
    expect(stateTone(3)).toBe("ok");
    expect(stateTone(4)).toBe("warn");
    expect(stateTone(5)).toBe("bad");
    expect(stateTone(1)).toBe("neutral");
  });
});

describe("live scores against the card", () => {
  const base = { realized: 50n, coverage: 0.1, maePct: 0.12, tpHitRate: 0.3, cardCoverage: 0.1, cardMaePct: 0.12, cardTpHitRate: 0.35 };
  it("judges only with enough outcomes", () => {
    expect(verdict({ ...base, realized: 9n })).toBe("too few outcomes");
    expect(verdict(base)).toBe("in line with the card");
    expect(verdict({ ...base, coverage: 0.05 })).toBe("worse than the card");
    expect(verdict({ ...base, maePct: 0.2 })).toBe("worse than the card");
    expect(verdict({ ...base, maePct: 0.09, coverage: 0.12 })).toBe("better than the card");
  });
  it("shows the live figure beside the card's, nothing live before an outcome", () => {
    expect(liveVsCard("coverage", base)).toEqual({ live: "10.0 %", card: "10.0 %" });
    expect(liveVsCard("mae", base)).toEqual({ live: "0.120 %", card: "0.120 %" });
    expect(liveVsCard("hit", { ...base, realized: 0n })).toEqual({ live: "–", card: "35.0 %" });
  });
  it("orders horizons from the shortest", () => {
    expect(sortHorizons(["position", "intraday", "x", "swing", "intraday"])).toEqual(["intraday", "swing", "position", "x"]);
  });
});
