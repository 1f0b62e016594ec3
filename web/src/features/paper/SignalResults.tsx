import { useQuery } from "@tanstack/react-query";
import { Link } from "@tanstack/react-router";
import { toApiError } from "../../api/errors";
import { formatPercent } from "../../lib/marketFormat";
import { Alert } from "../../ui/Alert";
import { paperClient } from "./paperClient";
import { money } from "./paperFormat";

const POLL_MS = 5_000;

/** The portfolio's signal orders per model and version (GetSignalResults), with a link to the models
 * page where each model's live scores are. */
export function SignalResults({ portfolioId, currency }: { portfolioId: string; currency: string }) {
  const results = useQuery({
    queryKey: ["paper", "signal-results", portfolioId],
    queryFn: () => paperClient.getSignalResults({ portfolioId }),
    refetchInterval: POLL_MS,
  });
  const rows = results.data?.results ?? [];
  return (
    <>
      {results.isError && <Alert>{toApiError(results.error).message}</Alert>}
      {rows.length === 0 ? (
        <p className="muted">No signal orders yet: trade a signal from the market page.</p>
      ) : (
        <div className="table-scroll" role="region" aria-label="Signal results" tabIndex={0}>
          <table className="table" data-testid="signal-results-table">
            <caption className="visually-hidden">Signal orders per model and version</caption>
            <thead>
              <tr>
                <th scope="col">Model</th>
                <th scope="col">Version</th>
                <th scope="col" className="num">Placed</th>
                <th scope="col" className="num">Filled</th>
                <th scope="col" className="num">Closed</th>
                <th scope="col" className="num">Wins</th>
                <th scope="col" className="num">Realised P&amp;L</th>
                <th scope="col" className="num">Average return</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={`${r.modelName}@${r.modelVersion}`} data-model={r.modelName}>
                  <td>{r.modelName || "(not recorded)"}</td>
                  <td>{r.modelVersion || "–"}</td>
                  <td className="num">{r.ordersPlaced}</td>
                  <td className="num">{r.ordersFilled}</td>
                  <td className="num">{r.closedTrades}</td>
                  <td className="num">{r.wins}</td>
                  <td className="num" data-testid="signal-result-pnl">{money(r.realisedPnlMinor, currency)}</td>
                  <td className="num">{r.closedTrades ? formatPercent(r.averageReturn) : "–"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p>
        <Link to="/models">Compare with the models' live scores</Link>
      </p>
    </>
  );
}
