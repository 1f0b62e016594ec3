import type { MessageInitShape } from "@bufbuild/protobuf";
import type { RunBacktestRequestSchema, RunBacktestResponse } from "@gen/trading/market/v1/backtest_service_pb";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { toApiError } from "../../api/errors";
import { formatDateTime } from "../../lib/format";
import { formatPercent } from "../../lib/marketFormat";
import { timestampDate } from "../../lib/time";
import { Alert } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { TextField } from "../../ui/Field";
import { Card } from "../../ui/page";
import { toast } from "../../ui/toast";
import { savedBacktestClient } from "../alerts/alertsClients";

type Request = MessageInitShape<typeof RunBacktestRequestSchema>;

/** Save the run just made (its configuration and metrics), and the user's saved runs. */
export function SavedBacktests({ request, result }: { request?: Request; result?: RunBacktestResponse }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const saved = useQuery({
    queryKey: ["backtests", "saved"],
    queryFn: async () => (await savedBacktestClient.listSavedBacktests({})).savedBacktests,
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["backtests", "saved"] });
  const save = useMutation({
    mutationFn: () =>
      savedBacktestClient.saveBacktest({
        name: name || `${result?.strategy} on ${result?.symbol} ${result?.timeframe}`,
        config: request,
        summary: result?.metrics,
      }),
    onSuccess: () => {
      toast("Backtest saved");
      setName("");
      void refresh();
    },
  });
  const remove = useMutation({
    mutationFn: (savedBacktestId: string) => savedBacktestClient.deleteSavedBacktest({ savedBacktestId }),
    onSuccess: () => void refresh(),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  const failure = save.error ?? remove.error ?? saved.error;
  return (
    <Card title="Saved backtests" id="saved-backtests">
      {request && result && (
        <form onSubmit={submit} className="form-grid" noValidate>
          <TextField label="Name of this run" name="savedName" value={name} onChange={setName} markOptional={false} />
          <div className="form-actions">
            <Button type="submit" busy={save.isPending} data-testid="save-backtest">
              Save this backtest
            </Button>
          </div>
        </form>
      )}
      {failure && <Alert>{toApiError(failure).message}</Alert>}
      {saved.data?.length === 0 && <p>Nothing saved yet.</p>}
      {!!saved.data?.length && (
        <div className="table-scroll">
          <table className="table" data-testid="saved-backtests">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Run</th>
                <th scope="col">Return</th>
                <th scope="col">Trades</th>
                <th scope="col">Saved</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {saved.data.map((s) => (
                <tr key={s.savedBacktestId} data-testid="saved-backtest">
                  <td>{s.name}</td>
                  <td>
                    {s.config?.strategy} on {s.config?.symbol} {s.config?.timeframe}
                  </td>
                  <td>{formatPercent(s.summary?.totalReturn)}</td>
                  <td>{s.summary?.trades ?? 0}</td>
                  <td>{formatDateTime(timestampDate(s.createdAt))}</td>
                  <td>
                    <Button variant="secondary" onClick={() => remove.mutate(s.savedBacktestId)} aria-label={`Delete ${s.name}`}>
                      Delete
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}
