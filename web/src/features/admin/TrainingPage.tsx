import type { TrainingRun } from "@gen/trading/ml/v1/training_service_pb";
import { Code, ConnectError } from "@connectrpc/connect";
import { type FormEvent, useCallback, useEffect, useRef, useState } from "react";
import { toApiError } from "../../api/errors";
import { Alert } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { SelectField, TextField } from "../../ui/Field";
import { PageHeader, usePageTitle } from "../../ui/page";
import { formatDateTime } from "../../lib/format";
import { timestampDate } from "../../lib/time";
import {
  FAMILIES,
  TRAINING_HORIZONS,
  type TrainingDraft,
  familyLabel,
  inProgress,
  mergeRun,
  runSummary,
  stateLabel,
  trainingClient,
  trainingRequest,
} from "./training";

const FIELDS = {
  family: ["family", "Family"],
  horizon: ["horizon", "Horizon"],
  symbols: ["symbols", "Symbols"],
  start: ["start", "Start"],
  end: ["end", "End"],
  folds: ["folds", "Folds"],
} as const;

/** Follows every run in progress (TrainingService.StreamTrainingRun over gRPC-Web) until it ends. */
function useRunStreams(runs: TrainingRun[], onUpdate: (run: TrainingRun) => void) {
  const open = useRef(new Map<string, AbortController>());
  const update = useRef(onUpdate);
  update.current = onUpdate;
  useEffect(() => {
    for (const run of runs) {
      if (!inProgress(run) || open.current.has(run.runId)) continue;
      const abort = new AbortController();
      open.current.set(run.runId, abort);
      void (async () => {
        try {
          for await (const message of trainingClient.streamTrainingRun({ runId: run.runId }, { signal: abort.signal, timeoutMs: 0 })) {
            if (message.run) update.current(message.run);
          }
        } catch (err) {
          if (!abort.signal.aborted && ConnectError.from(err).code !== Code.Canceled) {
            // The stream dropped: read the run once more; a run still in progress is followed again.
            try {
              const again = await trainingClient.getTrainingRun({ runId: run.runId });
              if (again.run) update.current(again.run);
            } catch {
              /* the next list refresh shows it */
            }
          }
        } finally {
          open.current.delete(run.runId);
        }
      })();
    }
  }, [runs]);
  useEffect(() => {
    const streams = open.current;
    return () => {
      for (const abort of streams.values()) abort.abort();
    };
  }, []);
}

/** Admin: retraining as an API. Start a run, watch its progress, cancel it. */
export function TrainingPage() {
  usePageTitle("Training runs");
  const [draft, setDraft] = useState<TrainingDraft>({ family: "xgboost", horizon: "intraday", symbols: "EURUSD", start: "", end: "", folds: "" });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [runs, setRuns] = useState<TrainingRun[]>([]);
  const set = <K extends keyof TrainingDraft>(key: K, value: TrainingDraft[K]) => setDraft((d) => ({ ...d, [key]: value }));
  const onUpdate = useCallback((run: TrainingRun) => setRuns((rs) => mergeRun(rs, run)), []);
  useRunStreams(runs, onUpdate);

  useEffect(() => {
    trainingClient
      .listTrainingRuns({})
      .then((r) => setRuns(r.runs))
      .catch((err) => setMessage({ ok: false, text: toApiError(err).message }));
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const { request, errors: found } = trainingRequest(draft);
    setErrors(found);
    setMessage(null);
    if (!request) return;
    setBusy(true);
    try {
      const started = await trainingClient.startTrainingRun(request);
      if (started.run) onUpdate(started.run);
      setMessage({ ok: true, text: "Started. The new version will not be activated: it waits in shadow." });
    } catch (err) {
      const api = toApiError(err, { fields: FIELDS });
      setErrors(api.fieldErrors);
      setMessage({ ok: false, text: api.message });
    } finally {
      setBusy(false);
    }
  };

  const cancel = async (run: TrainingRun) => {
    try {
      const cancelled = await trainingClient.cancelTrainingRun({ runId: run.runId });
      if (cancelled.run) onUpdate(cancelled.run);
    } catch (err) {
      setMessage({ ok: false, text: toApiError(err).message });
    }
  };

  return (
    <div className="stack">
      <PageHeader
        title="Training runs"
        lead="Retrain one model family of one horizon on chosen symbols and dates, walk-forward, in a separate worker process. One run at a time per family. The new version is written with its card and is not activated; a cancelled or failed run leaves no version behind. Starts and cancels are audited."
      />
      <form className="card stack" onSubmit={(e) => void submit(e)} noValidate data-testid="training-form">
        <SelectField label="Family" name="family" value={draft.family} onChange={(v) => set("family", v)} options={FAMILIES} error={errors.family} />
        <SelectField
          label="Horizon"
          name="horizon"
          value={draft.horizon}
          onChange={(v) => set("horizon", v)}
          options={TRAINING_HORIZONS.map((h) => ({ value: h, label: h }))}
          error={errors.horizon}
        />
        <TextField label="Symbols" name="symbols" value={draft.symbols} onChange={(v) => set("symbols", v)} error={errors.symbols} hint="Comma-separated, as stored (for example EURUSD)." required />
        <TextField label="Start (UTC)" name="start" type="date" value={draft.start} onChange={(v) => set("start", v)} error={errors.start} required />
        <TextField label="End (UTC, exclusive)" name="end" type="date" value={draft.end} onChange={(v) => set("end", v)} error={errors.end} required />
        <TextField label="Folds" name="folds" inputMode="numeric" value={draft.folds} onChange={(v) => set("folds", v)} error={errors.folds} hint="2 to 8; empty: 4." />
        <div className="form-actions">
          <Button type="submit" busy={busy} data-testid="training-submit">
            Start training
          </Button>
        </div>
      </form>
      {message && (
        <Alert tone={message.ok ? "success" : "error"} testId="training-message">
          <p>{message.text}</p>
        </Alert>
      )}
      <div className="card">
        <table className="table" data-testid="training-runs">
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">Family</th>
              <th scope="col">Horizon</th>
              <th scope="col">Symbols</th>
              <th scope="col">State</th>
              <th scope="col">Progress</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {runs.map((run) => (
              <tr key={run.runId} data-testid="training-run" data-state={stateLabel(run.state)}>
                <td className="time">{formatDateTime(timestampDate(run.createdAt))}</td>
                <td>{familyLabel(run.family)}</td>
                <td>{run.horizon}</td>
                <td>{run.symbols.join(", ")}</td>
                <td>{stateLabel(run.state)}</td>
                <td>
                  <progress max={100} value={run.progress?.percent ?? 0} aria-label={`progress of run ${run.runId}`} />{" "}
                  <span className="muted">{runSummary(run)}</span>
                </td>
                <td>
                  {inProgress(run) && (
                    <Button type="button" variant="secondary" onClick={() => void cancel(run)} data-testid="training-cancel">
                      Cancel
                    </Button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {runs.length === 0 && <p className="muted">No training runs yet.</p>}
      </div>
    </div>
  );
}
