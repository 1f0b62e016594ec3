import { create } from "@bufbuild/protobuf";
import { ModelFamily, TrainingRunSchema, TrainingRunState } from "@gen/trading/ml/v1/training_service_pb";
import { describe, expect, it } from "vitest";
import { mergeRun, runSummary, trainingRequest } from "./training";

const draft = { family: "xgboost", horizon: "intraday", symbols: "eurusd, GOOG", start: "2017-04-19", end: "2017-06-08", folds: "" };

describe("trainingRequest", () => {
  it("builds the request from a valid draft", () => {
    const { request, errors } = trainingRequest(draft);
    expect(errors).toEqual({});
    expect(request?.family).toBe(ModelFamily.XGBOOST);
    expect(request?.symbols).toEqual(["EURUSD", "GOOG"]);
    expect(Number(request?.start?.seconds)).toBe(Date.UTC(2017, 3, 19) / 1000);
    expect(request?.folds).toBe(0);
  });

  it("names the fields that are wrong", () => {
    const { request, errors } = trainingRequest({ ...draft, symbols: " ", end: "2017-04-01", folds: "9" });
    expect(request).toBeUndefined();
    expect(Object.keys(errors).sort()).toEqual(["end", "folds", "symbols"]);
  });
});

describe("runs", () => {
  it("replaces a run by id and puts a new one first", () => {
    const a = create(TrainingRunSchema, { runId: "a", state: TrainingRunState.RUNNING });
    const b = create(TrainingRunSchema, { runId: "b", state: TrainingRunState.PENDING });
    const done = create(TrainingRunSchema, { runId: "a", state: TrainingRunState.SUCCEEDED, producedVersion: "3", models: ["m"] });
    expect(mergeRun([a], b).map((r) => r.runId)).toEqual(["b", "a"]);
    expect(mergeRun([b, a], done)[1]).toBe(done);
    expect(runSummary(done)).toContain("version 3 of m: not activated");
  });
});
