import { DependencyState } from "@gen/trading/common/v1/health_pb";
import { useQuery } from "@tanstack/react-query";
import { useEffect } from "react";
import { toApiError } from "../../api/errors";
import { engineClient, statusClient } from "../../api/statusClients";
import { apiBaseUrl } from "../../config";
import { formatDateTime, formatDuration, formatLatency } from "../../lib/format";
import { mlStatus } from "../../lib/mlStatus";
import { timestampDate } from "../../lib/time";
import { useSession } from "../../session/instance";
import { Loading } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { PageHeader } from "../../ui/page";
import { devToken, forgetDevToken, SignInRequiredError } from "./devToken";

function stateName(state: DependencyState): string {
  return (DependencyState[state] ?? "UNSPECIFIED").toLowerCase();
}

function errorText(err: unknown): string {
  if (err instanceof SignInRequiredError) return err.message;
  return toApiError(err).message;
}

export function StatusPage() {
  const signedIn = useSession().status === "signed-in";
  const health = useQuery({
    queryKey: ["status", "health"],
    queryFn: () => statusClient.getHealth({}, { timeoutMs: 5000 }),
    staleTime: 5_000,
    retry: false,
  });
  const stats = useQuery({
    queryKey: ["status", "stats", signedIn],
    queryFn: async () => {
      if (signedIn) return engineClient.getStats({}, { timeoutMs: 5000 });
      const token = await devToken();
      try {
        return await engineClient.getStats({}, { timeoutMs: 5000, headers: { authorization: `Bearer ${token}` } });
      } catch (err) {
        forgetDevToken();
        throw err;
      }
    },
    staleTime: 5_000,
    retry: false,
  });

  // The platform's own view of the ML engine feeds the banner too.
  const mlDown = health.data?.dependencies.some((d) => d.name === "ml_engine" && d.state === DependencyState.DOWN);
  useEffect(() => {
    if (mlDown === true) mlStatus.markDown();
  }, [mlDown]);

  const busy = health.isFetching || stats.isFetching;
  return (
    <div className="page">
      <PageHeader
        title="Platform status"
        lead="Health of the services and their dependencies, over gRPC-Web."
        actions={
          <Button
            variant="secondary"
            onClick={() => {
              void health.refetch();
              void stats.refetch();
            }}
            disabled={busy}
            data-testid="refresh"
          >
            {busy ? "Refreshing…" : "Refresh"}
          </Button>
        }
      />
      <div className="cards">
        <section className="card card-wide" aria-labelledby="health-title" aria-busy={health.isPending}>
          <h2 id="health-title">Platform health</h2>
          {health.isPending && <Loading />}
          {health.isError && (
            <p className="error" role="alert" data-testid="health-error">
              {errorText(health.error)}
            </p>
          )}
          {health.data && (
            <>
              <p>
                Status:{" "}
                <span className={`badge badge-status-${health.data.status}`} data-testid="health-status">
                  {health.data.status}
                </span>
                {health.data.service && (
                  <span className="muted">
                    {" "}
                    · {health.data.service} {health.data.version} · checked {formatDateTime(timestampDate(health.data.checkedAt))}
                  </span>
                )}
              </p>
              <div className="table-scroll" role="region" aria-label="Dependencies" tabIndex={0}>
                <table className="table">
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
                    {health.data.dependencies.map((dep) => (
                      <tr key={dep.name} data-testid="dependency-row">
                        <th scope="row">{dep.name}</th>
                        <td>
                          <span className={`state state-${stateName(dep.state)}`}>{stateName(dep.state)}</span>
                        </td>
                        <td className="detail">{dep.detail}</td>
                        <td className="num">{formatLatency(dep.latencyMs)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </>
          )}
        </section>
        <section className="card" aria-labelledby="stats-title" aria-busy={stats.isPending}>
          <h2 id="stats-title">ML engine</h2>
          {stats.isPending && <Loading />}
          {stats.isError && (
            <p className="error" role="alert" data-testid="stats-error">
              {errorText(stats.error)}
            </p>
          )}
          {stats.data && (
            <dl className="stats">
              <div>
                <dt>Uptime</dt>
                <dd data-testid="stats-uptime">{formatDuration(stats.data.uptimeSeconds)}</dd>
              </div>
              <div>
                <dt>Requests</dt>
                <dd data-testid="stats-requests">{stats.data.requestsTotal.toString()}</dd>
              </div>
              <div>
                <dt>Models loaded</dt>
                <dd data-testid="stats-models">{stats.data.modelsLoaded}</dd>
              </div>
            </dl>
          )}
        </section>
      </div>
      <p className="muted">
        gRPC-Web via <code>{apiBaseUrl}</code>
      </p>
    </div>
  );
}
