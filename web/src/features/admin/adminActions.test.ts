import { describe, expect, it } from "vitest";
import {
  activationText,
  formatPValue,
  importRequest,
  importText,
  promotionText,
  sortVersions,
  verdictText,
  verdictTone,
} from "./adminActions";

const v = (version: string, state = 3, executionProvider = "CPUExecutionProvider", reason = "") => ({
  version,
  state,
  reason,
  executionProvider,
});

describe("model activation", () => {
  it("sorts versions newest first, numerically", () => {
    expect(sortVersions([v("2"), v("10"), v("1")]).map((x) => x.version)).toEqual(["10", "2", "1"]);
  });
  it("says which version serves and how", () => {
    expect(activationText({ name: "m", activeVersion: "2", versions: [v("1"), v("2")] }, { name: "m", version: "2" })).toEqual({
      ok: true,
      text: "m serves version 2 (ready, CPUExecutionProvider).",
    });
  });
  it("is not a success when degraded, with the reason", () => {
    const r = activationText(
      { name: "m", activeVersion: "2", versions: [v("2", 4, "CPUExecutionProvider", "CUDA fell back to CPU")] },
      { name: "m", version: "2" },
    );
    expect(r.ok).toBe(false);
    expect(r.text).toBe("m serves version 2 (degraded, CPUExecutionProvider): CUDA fell back to CPU.");
  });
  it("is a failure when another version still serves", () => {
    expect(activationText({ name: "m", activeVersion: "1", versions: [v("1")] }, { name: "m", version: "2" }).ok).toBe(false);
    expect(activationText(undefined, { name: "m", version: "2" }).ok).toBe(false);
  });
});

describe("market data import", () => {
  const base = { source: "csv" as const, sample: "EURUSD", csv: "time,open\n", symbol: "eurusd", timeframe: "1h", dryRun: true };
  it("builds a sample request", () => {
    expect(importRequest({ ...base, source: "sample" }).request).toEqual({
      source: { case: "sample", value: "EURUSD" },
      dryRun: true,
    });
    expect(importRequest({ ...base, source: "sample", sample: "XYZ" }).errors.sample).toBeDefined();
  });
  it("builds a CSV request with the symbol in capitals", () => {
    expect(importRequest(base).request).toEqual({
      source: { case: "csvContent", value: "time,open\n" },
      symbol: "EURUSD",
      timeframe: "1h",
      dryRun: true,
    });
  });
  it("needs the rows, a symbol and a timeframe for CSV", () => {
    const { request, errors } = importRequest({ ...base, csv: " ", symbol: "", timeframe: "" });
    expect(request).toBeUndefined();
    expect(Object.keys(errors).sort()).toEqual(["csv", "symbol", "timeframe"]);
    expect(importRequest({ ...base, symbol: "EUR USD" }).errors.symbol).toMatch(/letters/);
  });
  it("reports what was stored", () => {
    const r = { symbol: "GOOG", timeframe: "1d", rowsRead: 1200n, rowsInserted: 1000n, rowsExisting: 200n, committed: true };
    expect(importText(r)).toBe("Imported GOOG 1d: 1,200 rows read, 1,000 new, 200 already stored.");
    expect(importText({ ...r, committed: false })).toMatch(/^Checked only \(dry run\), nothing stored\./);
  });
});

describe("shadow comparison", () => {
  it("names each verdict and its tone", () => {
    expect([1, 2, 3, 4, 0].map(verdictText)).toEqual([
      "not enough data",
      "no significant difference",
      "shadow better",
      "shadow worse",
      "unknown",
    ]);
    expect([3, 4, 2].map(verdictTone)).toEqual(["ok", "bad", "neutral"]);
  });
  it("formats p-values, none without pairs", () => {
    expect(formatPValue(0.0004, 30)).toBe("< 0.001");
    expect(formatPValue(0.04567, 30)).toBe("0.046");
    expect(formatPValue(1, 0)).toBe("–");
  });
  it("says which version serves after a promotion", () => {
    expect(promotionText({ name: "m", fromVersion: "2", activeVersion: "3" })).toEqual({
      ok: true,
      text: "m serves version 3 (was 2).",
    });
  });
});
