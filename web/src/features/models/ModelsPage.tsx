import type { ModelInfo } from "@gen/trading/ml/v1/model_service_pb";
import type { PredictionScore } from "@gen/trading/ml/v1/prediction_service_pb";
import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { mlQueryRetry } from "../../api/mlRetry";
import { modelClient, predictionClient } from "../../api/marketClients";
import { formatDateTime } from "../../lib/format";
import { timestampDate } from "../../lib/time";
import { Alert } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { SelectField } from "../../ui/Field";
import { PageHeader } from "../../ui/page";
import { Markdown } from "../education/Markdown";
import { QueryStatus } from "../market/QueryStatus";
import { cardRows, liveVsCard, MIN_REALIZED, sortHorizons, STATE_NAMES, stateTone, verdict } from "./modelCards";

const short = (hash: string) => (hash ? hash.slice(0, 12) : "–");

/**
 * The model card's own text (GetModel's `card_markdown`), read when opened and rendered through
 * education's two sanitising layers (raw HTML escaped, DOMPurify allow-list).
 */
function CardText({ name, path }: { name: string; path: string }) {
  const [open, setOpen] = useState(false);
  const card = useQuery({
    queryKey: ["models", "card", name],
    queryFn: () => modelClient.getModel({ name }),
    enabled: open,
    staleTime: 300_000,
    ...mlQueryRetry,
  });
  return (
    <details onToggle={(e) => setOpen(e.currentTarget.open)} data-testid="model-card-text">
      <summary>Model card</summary>
      <QueryStatus query={card} testId="model-card-text-error" loading="Loading the card…" />
      {card.data &&
        (card.data.cardMarkdown ? (
          <div className="model-card-text" role="region" aria-label={`Model card of ${name}`} tabIndex={0}>
            <Markdown source={card.data.cardMarkdown} testId="model-card-markdown" />
            {card.data.cardTruncated && <p className="small muted">The card is longer than shown; read it in {path}.</p>}
          </div>
        ) : (
          <p className="small muted">This model has no card ({path}).</p>
        ))}
    </details>
  );
}

function ModelCard({ model }: { model: ModelInfo }) {
  const active = model.versions.find((v) => v.version === model.activeVersion) ?? model.versions[model.versions.length - 1];
  const rows = useMemo(() => (active ? cardRows(active.metrics, active.baselineMetrics) : []), [active]);
  const headingId = `model-${model.name}`;
  const tone = active ? stateTone(active.state) : "neutral";
  return (
    <article className="card model-card" aria-labelledby={headingId} data-testid="model-card" data-model={model.name}>
      <div className="card-header">
        <h3 id={headingId}>{model.name}</h3>
        <span className={`badge badge-${tone}`} data-testid="model-state">
          {active ? STATE_NAMES[active.state] ?? "unknown" : "no version"}
        </span>
      </div>
      <dl className="facts">
        <div>
          <dt>Family · target</dt>
          <dd>
            {model.family} · {model.target}
          </dd>
        </div>
        <div>
          <dt>Bars</dt>
          <dd>
            {model.windowBars} × {model.timeframe} read, {model.lookaheadBars} ahead
          </dd>
        </div>
        <div>
          <dt>Version</dt>
          <dd data-testid="model-version">{model.activeVersion || "none active"}</dd>
        </div>
        <div>
          <dt>Provider</dt>
          <dd data-testid="model-provider">
            {active?.executionProvider || "–"}
            {active && active.intendedProvider && active.intendedProvider !== active.executionProvider && (
              <span className="muted"> (asked for {active.intendedProvider})</span>
            )}
          </dd>
        </div>
        <div>
          <dt>Beats its baseline</dt>
          <dd>{active ? (active.beatsBaseline ? "yes (held-out folds)" : "no: serving prefers the baseline") : "–"}</dd>
        </div>
      </dl>
      {active?.reason && <Alert tone="warning">{active.reason}</Alert>}
      {rows.length > 0 && (
        <div className="table-scroll" role="region" aria-label={`Card figures of ${model.name}`} tabIndex={0}>
          <table className="table" data-testid="card-figures">
            <caption className="visually-hidden">Held-out figures of {model.name} and its baseline</caption>
            <thead>
              <tr>
                <th scope="col">Held-out figure</th>
                <th scope="col" className="num">Model</th>
                <th scope="col" className="num">Baseline</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.name}>
                  <th scope="row">{r.label}</th>
                  <td className={`num${r.better === true ? " positive" : r.better === false ? " negative" : ""}`}>{r.model}</td>
                  <td className="num">{r.baseline}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {active && (
        <details>
          <summary>Training and files</summary>
          <dl className="facts">
            <div>
              <dt>Trained</dt>
              <dd>{formatDateTime(timestampDate(active.trainedAt))}</dd>
            </div>
            <div>
              <dt>Training data</dt>
              <dd>
                {formatDateTime(timestampDate(active.trainingStart))} to {formatDateTime(timestampDate(active.trainingEnd))}
              </dd>
            </div>
            <div>
              <dt>Data SHA-256</dt>
              <dd>
                <code>{short(active.trainingDataSha256)}</code>
              </dd>
            </div>
            <div>
              <dt>Model file SHA-256</dt>
              <dd>
                <code>{short(active.fileSha256)}</code>
              </dd>
            </div>
            <div>
              <dt>Feature schema</dt>
              <dd>
                <code>{short(active.featureSchemaHash)}</code> · {model.featureNames.length} features
              </dd>
            </div>
            <div>
              <dt>Card</dt>
              <dd>
                <code>{model.cardPath}</code>
              </dd>
            </div>
          </dl>
          <p className="small muted">{model.featureNames.join(", ")}</p>
        </details>
      )}
      <CardText name={model.name} path={model.cardPath} />
      {model.versions.length > 1 && (
        <div className="table-scroll" role="region" aria-label={`Versions of ${model.name}`} tabIndex={0}>
          <table className="table">
            <caption className="visually-hidden">Versions of {model.name}</caption>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">State</th>
                <th scope="col">Provider</th>
                <th scope="col">Beats baseline</th>
              </tr>
            </thead>
            <tbody>
              {model.versions.map((v) => (
                <tr key={v.version}>
                  <th scope="row">
                    {v.version}
                    {v.version === model.activeVersion && <span className="muted"> (active)</span>}
                  </th>
                  <td>{STATE_NAMES[v.state] ?? "unknown"}</td>
                  <td>{v.executionProvider || v.intendedProvider || "–"}</td>
                  <td>{v.beatsBaseline ? "yes" : "no"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </article>
  );
}

function LiveScores({ scores }: { scores: PredictionScore[] }) {
  if (scores.length === 0) return <p className="muted">No prediction of this horizon has been served and scored yet.</p>;
  return (
    <div className="table-scroll" role="region" aria-label="Live scores" tabIndex={0}>
      <table className="table" data-testid="live-scores">
        <caption className="visually-hidden">Served predictions scored against what happened, beside the card's held-out figures</caption>
        <thead>
          <tr>
            <th scope="col">Model · symbol</th>
            <th scope="col" className="num">Scored</th>
            <th scope="col" className="num">Coverage live (card)</th>
            <th scope="col" className="num">MAE live (card)</th>
            <th scope="col" className="num">TP hit rate live (card)</th>
            <th scope="col">Verdict</th>
          </tr>
        </thead>
        <tbody>
          {scores.map((s) => {
            const cov = liveVsCard("coverage", s);
            const mae = liveVsCard("mae", s);
            const hit = liveVsCard("hit", s);
            const v = verdict(s);
            return (
              <tr key={`${s.model}-${s.version}-${s.symbol}`} data-testid="score-row">
                <th scope="row">
                  {s.model} · {s.symbol}
                  <br />
                  <span className="muted small">version {short(s.version)}</span>
                </th>
                <td className="num">
                  {s.realized.toString()} of {s.recorded.toString()}
                </td>
                <td className="num">
                  {cov.live} <span className="muted">({cov.card})</span>
                </td>
                <td className="num">
                  {mae.live} <span className="muted">({mae.card})</span>
                </td>
                <td className="num">
                  {hit.live} <span className="muted">({hit.card})</span>
                </td>
                <td>
                  <span className={`badge badge-${v === "worse than the card" ? "bad" : v === "too few outcomes" ? "neutral" : "ok"}`}>{v}</span>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export function ModelsPage() {
  const models = useQuery({ queryKey: ["models", "list"], queryFn: () => modelClient.listModels({}), staleTime: 30_000, ...mlQueryRetry });
  const scores = useQuery({ queryKey: ["models", "scores"], queryFn: () => predictionClient.getPredictionScores({}), staleTime: 30_000, ...mlQueryRetry });
  const [horizon, setHorizon] = useState("");
  const list = models.data?.models ?? [];
  const horizons = sortHorizons([...list.map((m) => m.horizon), ...(scores.data?.scores ?? []).map((s) => s.horizon)]);
  const shown = horizon ? horizons.filter((h) => h === horizon) : horizons;
  const busy = models.isFetching || scores.isFetching;

  return (
    <div className="page">
      <PageHeader
        title="Models"
        lead={`Every model serving predictions, its card (held-out figures against a naive baseline) and how its served predictions turned out (scored at least ${MIN_REALIZED} times before a verdict).`}
        actions={
          <Button
            variant="secondary"
            onClick={() => {
              void models.refetch();
              void scores.refetch();
            }}
            disabled={busy}
          >
            {busy ? "Refreshing…" : "Refresh"}
          </Button>
        }
      />
      <QueryStatus query={models} testId="models-error" />
      <QueryStatus query={scores} testId="scores-error" />
      {models.data && (
        <>
          <form className="filters" aria-label="Filter models" onSubmit={(e) => e.preventDefault()}>
            <SelectField
              label="Horizon"
              name="horizon"
              value={horizon}
              onChange={setHorizon}
              options={[{ value: "", label: "All horizons" }, ...horizons.map((h) => ({ value: h, label: h }))]}
            />
            <p className="muted small">
              {list.length} models in <code>{models.data.repository}</code>
              {scores.data?.scoredAt && ` · scored ${formatDateTime(timestampDate(scores.data.scoredAt))}`}
            </p>
          </form>
          {shown.map((h) => {
            const members = list.filter((m) => m.horizon === h);
            const first = members[0];
            return (
              <section key={h} className="stack model-horizon" aria-labelledby={`horizon-${h}`} data-testid="horizon-section">
                <h2 id={`horizon-${h}`}>
                  {h.charAt(0).toUpperCase() + h.slice(1)}
                  {first && (
                    <span className="muted">
                      {" "}
                      · {first.timeframe} bars, {first.lookaheadBars} ahead
                    </span>
                  )}
                </h2>
                <section className="card" aria-label={`Live scores of the ${h} horizon`}>
                  <h3>Live scores</h3>
                  <LiveScores scores={(scores.data?.scores ?? []).filter((s) => s.horizon === h)} />
                </section>
                <div className="cards model-list">
                  {members.map((m) => (
                    <ModelCard key={m.name} model={m} />
                  ))}
                </div>
              </section>
            );
          })}
        </>
      )}
    </div>
  );
}
