import { useMutation, useQueries, useQuery, useQueryClient } from "@tanstack/react-query";
import { SignalAction } from "@gen/trading/ml/v1/prediction_pb";
import { Link } from "@tanstack/react-router";
import { type FormEvent, useState } from "react";
import { toApiError } from "../../api/errors";
import { predictionClient } from "../../api/marketClients";
import { formatPercent, formatPrice } from "../../lib/marketFormat";
import { Alert, Loading } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { TextField } from "../../ui/Field";
import { Card, PageHeader } from "../../ui/page";
import { toast } from "../../ui/toast";
import { watchlistClient } from "./alertsClients";
import { useAlertStream } from "./useAlertStream";

const ACTION = { [SignalAction.BUY]: "BUY", [SignalAction.SELL]: "SELL", [SignalAction.HOLD]: "HOLD" } as Record<number, string>;
const FIELDS = { name: ["name", "Name"], symbols: ["symbols", "Symbols"] } as const;
const SIGNAL_REFRESH_MS = 30_000;

const parseSymbols = (text: string) =>
  text
    .split(/[\s,;]+/)
    .map((s) => s.trim().toUpperCase())
    .filter(Boolean);

/** The signed-in user's watchlists, each symbol with its current signal (refreshed, and at once
 * when one of the user's alerts fires on it). */
export function WatchlistsPage() {
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [symbols, setSymbols] = useState("");
  const watchlists = useQuery({
    queryKey: ["alerts", "watchlists"],
    queryFn: async () => (await watchlistClient.listWatchlists({})).watchlists,
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["alerts", "watchlists"] });
  const create = useMutation({
    mutationFn: () => watchlistClient.createWatchlist({ name, symbols: parseSymbols(symbols) }),
    onSuccess: () => {
      setName("");
      setSymbols("");
      toast("Watchlist created");
      void refresh();
    },
  });
  const remove = useMutation({
    mutationFn: (watchlistId: string) => watchlistClient.deleteWatchlist({ watchlistId }),
    onSuccess: () => void refresh(),
  });
  const watched = [...new Set((watchlists.data ?? []).flatMap((w) => w.symbols))];
  const signals = useQueries({
    queries: watched.map((symbol) => ({
      queryKey: ["alerts", "signal", symbol],
      queryFn: async () => (await predictionClient.getSignals({ symbol, timeframe: "1h" })).signal,
      refetchInterval: SIGNAL_REFRESH_MS,
    })),
  });
  const signalOf = Object.fromEntries(watched.map((symbol, i) => [symbol, signals[i]]));
  const stream = useAlertStream((alert) => {
    toast(alert.message, "info", 10_000);
    void queryClient.invalidateQueries({ queryKey: ["alerts", "signal", alert.symbol] });
  });
  const createError = create.error ? toApiError(create.error, { fields: FIELDS }) : undefined;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  return (
    <div>
      <PageHeader
        title="Watchlists"
        lead={
          <>
            The symbols you follow with their current signal. Get told when something happens: <Link to="/alerts">alerts</Link>.
          </>
        }
      />
      <p className="muted" data-testid="alert-stream-state">
        Live alerts: {stream}
      </p>
      <Card title="New watchlist">
        <form onSubmit={submit} className="form-grid" noValidate>
          <TextField label="Name" name="name" value={name} onChange={setName} required error={createError?.fieldErrors.name} />
          <TextField
            label="Symbols"
            name="symbols"
            value={symbols}
            onChange={setSymbols}
            hint="Separated by commas, for example EURUSD, BTCUSD"
            error={createError?.fieldErrors.symbols}
          />
          {createError && !Object.keys(createError.fieldErrors).length && <Alert>{createError.message}</Alert>}
          <div className="form-actions">
            <Button type="submit" busy={create.isPending} data-testid="create-watchlist">
              Create watchlist
            </Button>
          </div>
        </form>
      </Card>
      {watchlists.isPending && <Loading />}
      {watchlists.isError && <Alert>{toApiError(watchlists.error).message}</Alert>}
      {remove.error && <Alert>{toApiError(remove.error).message}</Alert>}
      {watchlists.data?.length === 0 && <p>No watchlist yet.</p>}
      {watchlists.data?.map((w) => (
        <Card
          key={w.watchlistId}
          title={w.name}
          actions={
            <Button variant="secondary" onClick={() => remove.mutate(w.watchlistId)} aria-label={`Delete ${w.name}`}>
              Delete
            </Button>
          }
        >
          <div className="table-scroll">
            <table className="table" data-testid="watchlist-table">
              <thead>
                <tr>
                  <th scope="col">Symbol</th>
                  <th scope="col">Signal (1h)</th>
                  <th scope="col">Confidence</th>
                  <th scope="col">Entry</th>
                </tr>
              </thead>
              <tbody>
                {w.symbols.map((symbol) => {
                  const query = signalOf[symbol];
                  const signal = query?.data;
                  return (
                    <tr key={symbol} data-testid="watchlist-row">
                      <th scope="row">
                        <Link to="/market" search={{ symbol }}>
                          {symbol}
                        </Link>
                      </th>
                      <td data-testid="watchlist-signal">
                        {query?.isError ? "unavailable" : signal ? (ACTION[signal.action] ?? "–") : "…"}
                      </td>
                      <td>{signal ? formatPercent(signal.confidence, 0) : ""}</td>
                      <td>{signal ? formatPrice(signal.entry, 5) : ""}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </Card>
      ))}
    </div>
  );
}
