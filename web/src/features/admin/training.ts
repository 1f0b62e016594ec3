/** TrainingService (retraining as an API): the client, the start form's checks, and how a run reads. */
import { createClient } from "@connectrpc/connect";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  ModelFamily,
  type StartTrainingRunRequest,
  type TrainingRun,
  TrainingRunState,
  TrainingService,
} from "@gen/trading/ml/v1/training_service_pb";
import { create } from "@bufbuild/protobuf";
import { StartTrainingRunRequestSchema } from "@gen/trading/ml/v1/training_service_pb";
import { transport } from "../../api/transport";

/** trading.ml.v1.TrainingService (admin). */
export const trainingClient = createClient(TrainingService, transport);

export const FAMILIES: { value: string; label: string; family: ModelFamily }[] = [
  { value: "xgboost", label: "XGBoost (range high/low, TP long/short)", family: ModelFamily.XGBOOST },
  { value: "gru", label: "GRU", family: ModelFamily.GRU },
  { value: "transformer", label: "Transformer", family: ModelFamily.TRANSFORMER },
];
export const TRAINING_HORIZONS = ["intraday", "swing", "position", "scalping"] as const;

export interface TrainingDraft {
  family: string;
  horizon: string;
  symbols: string;
  start: string; // YYYY-MM-DD (UTC)
  end: string;
  folds: string;
}

/** The draft as a request, or the errors of its fields (the API checks the rest, naming the field). */
export function trainingRequest(draft: TrainingDraft): { request?: StartTrainingRunRequest; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const family = FAMILIES.find((f) => f.value === draft.family);
  if (!family) errors.family = "Choose a model family.";
  const symbols = draft.symbols
    .split(/[\s,]+/)
    .map((s) => s.trim().toUpperCase())
    .filter(Boolean);
  if (symbols.length === 0) errors.symbols = "At least one symbol.";
  const start = parseDay(draft.start);
  const end = parseDay(draft.end);
  if (!start) errors.start = "A start date.";
  if (!end) errors.end = "An end date.";
  if (start && end && end <= start) errors.end = "The end must be after the start.";
  const folds = draft.folds.trim() === "" ? 0 : Number(draft.folds);
  if (!Number.isInteger(folds) || (folds !== 0 && (folds < 2 || folds > 8))) errors.folds = "2 to 8 folds (empty: 4).";
  if (Object.keys(errors).length > 0 || !family || !start || !end) return { errors };
  return {
    errors,
    request: create(StartTrainingRunRequestSchema, {
      family: family.family,
      horizon: draft.horizon,
      symbols,
      start: timestampFromDate(start),
      end: timestampFromDate(end),
      folds,
    }),
  };
}

function parseDay(value: string): Date | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return undefined;
  const date = new Date(`${value}T00:00:00Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

const STATE_LABELS: Record<TrainingRunState, string> = {
  [TrainingRunState.UNSPECIFIED]: "unknown",
  [TrainingRunState.PENDING]: "pending",
  [TrainingRunState.RUNNING]: "running",
  [TrainingRunState.SUCCEEDED]: "succeeded",
  [TrainingRunState.FAILED]: "failed",
  [TrainingRunState.CANCELLED]: "cancelled",
};

export function stateLabel(state: TrainingRunState): string {
  return STATE_LABELS[state] ?? "unknown";
}

export function familyLabel(family: ModelFamily): string {
  return FAMILIES.find((f) => f.family === family)?.value ?? "unknown";
}

export function inProgress(run: TrainingRun): boolean {
  return run.state === TrainingRunState.PENDING || run.state === TrainingRunState.RUNNING;
}

/** One line on where the run is: its progress, its outcome or its error. */
export function runSummary(run: TrainingRun): string {
  switch (run.state) {
    case TrainingRunState.SUCCEEDED:
      return `version ${run.producedVersion} of ${run.models.join(", ")}: not activated (activate it in Model versions)`;
    case TrainingRunState.FAILED:
      return run.error || "failed";
    case TrainingRunState.CANCELLED:
      return "cancelled: no version was written";
    default:
      return run.progress?.message || run.progress?.stage || "queued";
  }
}

/** `runs` with `run` replacing the run of the same id (newest first; a new run goes on top). */
export function mergeRun(runs: TrainingRun[], run: TrainingRun): TrainingRun[] {
  const at = runs.findIndex((r) => r.runId === run.runId);
  if (at < 0) return [run, ...runs];
  const next = runs.slice();
  next[at] = run;
  return next;
}
