import { type ReactNode, useCallback, useEffect, useState } from "react";
import { DependencyState } from "@gen/trading/common/v1/health_pb";
import type { GetStatsResponse } from "@gen/trading/ml/v1/engine_service_pb";
import type { GetHealthResponse } from "@gen/trading/status/v1/status_service_pb";
import { apiBaseUrl, getHealth, getStats, SignInRequiredError } from "./api";
import { describeError, formatDuration, formatLatency } from "./format";

type Result<T> =
  | { kind: "loading" }
  | { kind: "ok"; value: T }
  | { kind: "error"; message: string };

function stateName(state: DependencyState): string {
  return (DependencyState[state] ?? "UNSPECIFIED").toLowerCase();
}

/** A card that shows loading, the error (under `${id}-error`) or what `render` makes of the value. */
function ResultCard<T>(props: {
  id: string;
  title: string;
  result: Result<T>;
  render: (value: T) => ReactNode;
}) {
  const { id, title, result, render } = props;
  return (
    <section className="card" aria-labelledby={`${id}-title`} aria-busy={result.kind === "loading"}>
      <h2 id={`${id}-title`}>{title}</h2>
      {result.kind === "loading" && <p className="muted">Loading…</p>}
      {result.kind === "error" && (
        <p className="error" role="alert" data-testid={`${id}-error`}>
          {result.message}
        </p>
      )}
      {result.kind === "ok" && render(result.value)}
    </section>
  );
}

function HealthCard({ result }: { result: Result<GetHealthResponse> }) {
  return (
    <ResultCard
      id="health"
      title="Platform health"
      result={result}
      render={(health) => (
        <>
          <p>
            Status:{" "}
            <span className={`badge badge-${health.status}`} data-testid="health-status">
              {health.status}
            </span>
            {health.service && (
              <span className="muted">
                {" "}
                · {health.service} {health.version}
              </span>
            )}
          </p>
          <table>
            <caption className="visually-hidden">Dependencies</caption>
            <thead>
              <tr>
                <th scope="col">Dependency</th>
                <th scope="col">State</th>
                <th scope="col">Detail</th>
                <th scope="col" className="num">
                  Latency
                </th>
              </tr>
            </thead>
            <tbody>
              {health.dependencies.map((dep) => (
                <tr key={dep.name} data-testid="dependency-row">
                  <th scope="row">{dep.name}</th>
                  <td>
                    <span className={`state state-${stateName(dep.state)}`}>
                      {stateName(dep.state)}
                    </span>
                  </td>
                  <td className="detail">{dep.detail}</td>
                  <td className="num">{formatLatency(dep.latencyMs)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    />
  );
}

function StatsCard({ result }: { result: Result<GetStatsResponse> }) {
  return (
    <ResultCard
      id="stats"
      title="ML engine"
      result={result}
      render={(stats) => (
        <dl className="stats">
          <div>
            <dt>Uptime</dt>
            <dd data-testid="stats-uptime">{formatDuration(stats.uptimeSeconds)}</dd>
          </div>
          <div>
            <dt>Requests</dt>
            <dd data-testid="stats-requests">{stats.requestsTotal.toString()}</dd>
          </div>
          <div>
            <dt>Models loaded</dt>
            <dd data-testid="stats-models">{stats.modelsLoaded}</dd>
          </div>
        </dl>
      )}
    />
  );
}

export function App() {
  const [health, setHealth] = useState<Result<GetHealthResponse>>({ kind: "loading" });
  const [stats, setStats] = useState<Result<GetStatsResponse>>({ kind: "loading" });
  const [busy, setBusy] = useState(false);

  const refresh = useCallback(async () => {
    setBusy(true);
    setHealth({ kind: "loading" });
    setStats({ kind: "loading" });
    await Promise.all([
      getHealth().then(
        (value) => setHealth({ kind: "ok", value }),
        (err: unknown) => setHealth({ kind: "error", message: describeError(err, apiBaseUrl) }),
      ),
      getStats().then(
        (value) => setStats({ kind: "ok", value }),
        (err: unknown) =>
          setStats({
            kind: "error",
            message: err instanceof SignInRequiredError ? err.message : describeError(err, apiBaseUrl),
          }),
      ),
    ]);
    setBusy(false);
  }, []);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  return (
    <main>
      <header>
        <h1>Trading platform</h1>
        <button type="button" onClick={() => void refresh()} disabled={busy} data-testid="refresh">
          {busy ? "Refreshing…" : "Refresh"}
        </button>
      </header>
      <div className="cards">
        <HealthCard result={health} />
        <StatsCard result={stats} />
      </div>
      <footer className="muted">
        gRPC-Web via <code>{apiBaseUrl}</code>
      </footer>
    </main>
  );
}
