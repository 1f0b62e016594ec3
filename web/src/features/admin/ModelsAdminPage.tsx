import type { ModelInfo } from "@gen/trading/ml/v1/model_service_pb";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { toApiError } from "../../api/errors";
import { modelClient } from "../../api/marketClients";
import { mlQueryRetry } from "../../api/mlRetry";
import { Alert, Loading } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { Dialog } from "../../ui/Dialog";
import { PageHeader, usePageTitle } from "../../ui/page";
import { STATE_NAMES, stateTone } from "../models/modelCards";
import { type ActionResult, activationText, sortVersions } from "./adminActions";

const MODELS_KEY = ["admin", "models"] as const;

function ModelRow({ model, onActivate }: { model: ModelInfo; onActivate: (version: string) => void }) {
  return (
    <section className="card" aria-labelledby={`model-${model.name}`} data-testid={`admin-model-${model.name}`}>
      <div className="card-header">
        <h2 id={`model-${model.name}`}>{model.name}</h2>
        <span className="muted">
          {model.horizon} · {model.timeframe} · {model.family} · {model.target}
        </span>
      </div>
      <p>
        Serving: <strong data-testid="active-version">{model.activeVersion || "none"}</strong>
      </p>
      <div className="table-scroll" role="region" aria-label={`Versions of ${model.name}`} tabIndex={0}>
        <table className="table">
          <caption className="visually-hidden">Versions of {model.name}</caption>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">State</th>
              <th scope="col">Provider</th>
              <th scope="col">Beats baseline</th>
              <th scope="col">
                <span className="visually-hidden">Action</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {sortVersions(model.versions).map((v) => (
              <tr key={v.version} data-testid={`version-${v.version}`}>
                <th scope="row">{v.version}</th>
                <td>
                  <span className={`badge badge-${stateTone(v.state)}`}>{STATE_NAMES[v.state] ?? "unknown"}</span>
                  {v.reason && <span className="muted"> {v.reason}</span>}
                </td>
                <td>{v.executionProvider || v.intendedProvider || "–"}</td>
                <td>{v.beatsBaseline ? "yes" : "no"}</td>
                <td>
                  <Button variant="secondary" onClick={() => onActivate(v.version)} data-testid={`activate-${v.version}`}>
                    {v.version === model.activeVersion ? "Reload" : "Activate"}
                    <span className="visually-hidden"> version {v.version}</span>
                  </Button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** Admin: each model's versions, and switching the one it serves (ModelService.ActivateModelVersion). */
export function ModelsAdminPage() {
  usePageTitle("Model versions");
  const client = useQueryClient();
  const models = useQuery({
    queryKey: MODELS_KEY,
    queryFn: async () => (await modelClient.listModels({})).models,
    ...mlQueryRetry,
  });
  const [asking, setAsking] = useState<{ name: string; version: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<ActionResult | null>(null);

  const activate = async (asked: { name: string; version: string }) => {
    setBusy(true);
    setResult(null);
    try {
      const res = await modelClient.activateModelVersion(asked);
      setResult(activationText(res.model, asked));
    } catch (err) {
      setResult({ ok: false, text: `Version ${asked.version} of ${asked.name} was not activated: ${toApiError(err).message}` });
    } finally {
      setBusy(false);
      setAsking(null);
      void client.invalidateQueries({ queryKey: MODELS_KEY });
      void client.invalidateQueries({ queryKey: ["models"] });
    }
  };

  return (
    <div className="stack">
      <PageHeader
        title="Model versions"
        lead="Switch the version a model serves. The engine loads and warms the version up before switching; calls in flight finish on the old one. Each switch is recorded in the audit log."
      />
      {result && (
        <Alert tone={result.ok ? "success" : "error"} testId="activation-result">
          {result.text}
        </Alert>
      )}
      {models.isPending && <Loading />}
      {models.isError && <Alert>{toApiError(models.error).message}</Alert>}
      {models.data?.length === 0 && <p className="muted">The model repository is empty.</p>}
      {models.data?.map((m) => (
        <ModelRow key={m.name} model={m} onActivate={(version) => setAsking({ name: m.name, version })} />
      ))}
      <Dialog
        open={asking !== null}
        title={asking ? `Serve version ${asking.version} of ${asking.name}?` : "Activate"}
        onClose={() => setAsking(null)}
        testId="activate-dialog"
      >
        <p>
          The engine loads the version and warms it up; predictions and signals of this model come from it as soon as it is
          ready (for the serving version: a fresh load, for example after a degraded start).
        </p>
        <div className="dialog-actions">
          <Button variant="secondary" onClick={() => setAsking(null)}>
            Cancel
          </Button>
          <Button busy={busy} onClick={() => asking && void activate(asking)} data-testid="activate-confirm">
            Activate
          </Button>
        </div>
      </Dialog>
    </div>
  );
}
