import type { Shadow } from "@gen/trading/ml/v1/model_promotion_service_pb";
import type { ModelInfo } from "@gen/trading/ml/v1/model_service_pb";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { toApiError } from "../../api/errors";
import { modelClient, promotionClient } from "../../api/marketClients";
import { mlQueryRetry } from "../../api/mlRetry";
import { Alert, Loading } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { Dialog } from "../../ui/Dialog";
import { PageHeader, usePageTitle } from "../../ui/page";
import { STATE_NAMES, stateTone } from "../models/modelCards";
import {
  type ActionResult,
  activationText,
  formatPValue,
  promotionText,
  sortVersions,
  verdictText,
  verdictTone,
} from "./adminActions";

const MODELS_KEY = ["admin", "models"] as const;
const SHADOWS_KEY = ["admin", "shadows"] as const;

/** One shadow: active vs shadow on live scores (CompareShadow), with Promote and Stop. */
function ShadowCard({
  shadow,
  busy,
  onPromote,
  onStop,
}: {
  shadow: Shadow;
  busy: boolean;
  onPromote: () => void;
  onStop: () => void;
}) {
  const comparison = useQuery({
    queryKey: ["admin", "shadow", shadow.name, shadow.shadowVersion, Number(shadow.scored)],
    queryFn: () => promotionClient.compareShadow({ name: shadow.name }),
    ...mlQueryRetry,
  });
  const data = comparison.data;
  return (
    <section className="card" aria-labelledby={`shadow-${shadow.name}`} data-testid={`shadow-${shadow.name}`}>
      <div className="card-header">
        <h3 id={`shadow-${shadow.name}`}>{shadow.name}</h3>
        <span className="muted">
          version {shadow.shadowVersion} in shadow of {shadow.activeVersion || "none"} · {shadow.horizon} ·{" "}
          {String(shadow.recorded)} recorded, {String(shadow.scored)} scored
        </span>
      </div>
      {comparison.isError && <Alert>{toApiError(comparison.error).message}</Alert>}
      {data && (
        <>
          <p>
            Verdict:{" "}
            <span className={`badge badge-${verdictTone(data.verdict)}`} data-testid="shadow-verdict">
              {verdictText(data.verdict)}
            </span>{" "}
            <span className="muted">{data.summary}</span>
          </p>
          <div className="table-scroll" role="region" aria-label={`Comparison of ${shadow.name}`} tabIndex={0}>
            <table className="table" data-testid="shadow-comparison">
              <caption className="visually-hidden">
                Active vs shadow losses of {shadow.name} (Diebold-Mariano test, p below {data.pValueThreshold} is
                significant)
              </caption>
              <thead>
                <tr>
                  <th scope="col">Metric (lower is better)</th>
                  <th scope="col">Pairs</th>
                  <th scope="col">Active</th>
                  <th scope="col">Shadow</th>
                  <th scope="col">DM statistic</th>
                  <th scope="col">p-value</th>
                  <th scope="col">Verdict</th>
                </tr>
              </thead>
              <tbody>
                {data.metrics.map((m) => (
                  <tr key={m.metric} data-testid={`metric-${m.metric}`}>
                    <th scope="row">{m.metric}</th>
                    <td>{String(m.n)}</td>
                    <td>{m.meanLossActive.toFixed(4)}</td>
                    <td>{m.meanLossShadow.toFixed(4)}</td>
                    <td>{m.dmStatistic.toFixed(2)}</td>
                    <td data-testid="p-value">{formatPValue(m.pValue, Number(m.n))}</td>
                    <td>{verdictText(m.verdict)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      <div className="dialog-actions">
        <Button variant="secondary" busy={busy} onClick={onStop} data-testid={`stop-shadow-${shadow.name}`}>
          Stop shadow
        </Button>
        <Button busy={busy} onClick={onPromote} data-testid={`promote-${shadow.name}`}>
          Promote version {shadow.shadowVersion}
        </Button>
      </div>
    </section>
  );
}

function ModelRow({
  model,
  shadowVersion,
  onActivate,
  onShadow,
}: {
  model: ModelInfo;
  shadowVersion: string;
  onActivate: (version: string) => void;
  onShadow: (version: string) => void;
}) {
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
                  </Button>{" "}
                  {v.version !== model.activeVersion && v.version !== shadowVersion && (
                    <Button variant="secondary" onClick={() => onShadow(v.version)} data-testid={`shadow-${v.version}`}>
                      Run in shadow
                      <span className="visually-hidden"> version {v.version}</span>
                    </Button>
                  )}
                  {v.version === shadowVersion && <span className="badge">in shadow</span>}
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
  const shadows = useQuery({
    queryKey: SHADOWS_KEY,
    queryFn: () => promotionClient.listShadows({}),
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
      refresh();
    }
  };

  const refresh = () => {
    void client.invalidateQueries({ queryKey: MODELS_KEY });
    void client.invalidateQueries({ queryKey: SHADOWS_KEY });
    void client.invalidateQueries({ queryKey: ["admin", "shadow"] });
    void client.invalidateQueries({ queryKey: ["models"] });
  };
  const shadowAction = async (what: string, run: () => Promise<ActionResult>) => {
    setBusy(true);
    setResult(null);
    try {
      setResult(await run());
    } catch (err) {
      setResult({ ok: false, text: `${what}: ${toApiError(err).message}` });
    } finally {
      setBusy(false);
      refresh();
    }
  };
  const startShadow = (name: string, version: string) =>
    shadowAction(`Version ${version} of ${name} was not put in shadow`, async () => {
      const res = await promotionClient.startShadow({ name, version });
      return { ok: true, text: `${name}: version ${res.shadow?.shadowVersion ?? version} runs in shadow.` };
    });
  const promote = (name: string) =>
    shadowAction(`The shadow of ${name} was not promoted`, async () =>
      promotionText(await promotionClient.promoteShadow({ name })),
    );
  const stopShadow = (name: string) =>
    shadowAction(`The shadow of ${name} was not stopped`, async () => {
      await promotionClient.stopShadow({ name });
      return { ok: true, text: `${name}: shadow stopped.` };
    });
  const shadowOf = new Map((shadows.data?.shadows ?? []).map((x) => [x.name, x.shadowVersion]));

  return (
    <div className="stack">
      <PageHeader
        title="Model versions"
        lead="Switch the version a model serves, or run a candidate in shadow and promote it. The engine loads and warms the version up before switching; calls in flight finish on the old one. Each switch is recorded in the audit log."
      />
      {result && (
        <Alert tone={result.ok ? "success" : "error"} testId="activation-result">
          {result.text}
        </Alert>
      )}
      <section className="stack" aria-labelledby="shadows-title" data-testid="shadows">
        <h2 id="shadows-title">Shadow versions</h2>
        <p className="muted">
          A version in shadow gets the same inputs as the serving one; its predictions are recorded and scored, never shown
          to users. Promote it when the comparison says it is better (Diebold-Mariano test on the live losses).
          {shadows.data &&
            (shadows.data.autoPromote
              ? ` Automatic promotion is on: at least ${shadows.data.autoPromoteMinScored} scored pairs, p below ${shadows.data.autoPromotePValue}.`
              : " Automatic promotion is off.")}
        </p>
        {shadows.isError && <Alert>{toApiError(shadows.error).message}</Alert>}
        {shadows.data?.shadows.length === 0 && (
          <p className="muted" data-testid="no-shadows">
            No version runs in shadow. Use “Run in shadow” on a version below.
          </p>
        )}
        {shadows.data?.shadows.map((x) => (
          <ShadowCard
            key={x.name}
            shadow={x}
            busy={busy}
            onPromote={() => void promote(x.name)}
            onStop={() => void stopShadow(x.name)}
          />
        ))}
      </section>
      {models.isPending && <Loading />}
      {models.isError && <Alert>{toApiError(models.error).message}</Alert>}
      {models.data?.length === 0 && <p className="muted">The model repository is empty.</p>}
      {models.data?.map((m) => (
        <ModelRow
          key={m.name}
          model={m}
          shadowVersion={shadowOf.get(m.name) ?? ""}
          onActivate={(version) => setAsking({ name: m.name, version })}
          onShadow={(version) => void startShadow(m.name, version)}
        />
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
