import { AlertKind, type Alert as FiredAlert } from "@gen/trading/alerts/v1/alert_service_pb";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { planNeeded, toApiError } from "../../api/errors";
import { marketClient } from "../../api/marketClients";
import { formatDateTime } from "../../lib/format";
import { timestampDate } from "../../lib/time";
import { Alert, Loading } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { SelectField, TextField } from "../../ui/Field";
import { Card, PageHeader } from "../../ui/page";
import { toast } from "../../ui/toast";
import { UpgradePrompt } from "../../ui/UpgradePrompt";
import { DIRECTION_OPTIONS, KIND_OPTIONS, SIDE_OPTIONS, describeRule } from "./alertText";
import { alertClient } from "./alertsClients";
import { useAlertStream } from "./useAlertStream";

const TIMEFRAMES = [
  { value: "1h", label: "1h" },
  { value: "15m", label: "15m" },
  { value: "5m", label: "5m" },
];
const FIELDS = {
  symbol: ["symbol", "Symbol"],
  timeframe: ["timeframe", "Timeframe"],
  kind: ["kind", "Condition"],
  side: ["side", "Side"],
  min_confidence: ["minConfidence", "Least confidence"],
  level: ["level", "Level"],
  direction: ["direction", "Direction"],
} as const;

interface RuleForm {
  symbol: string;
  timeframe: string;
  kind: string;
  side: string;
  minConfidence: string;
  level: string;
  direction: string;
  notifyEmail: boolean;
}

const EMPTY: RuleForm = {
  symbol: "",
  timeframe: "1h",
  kind: String(AlertKind.SIGNAL),
  side: SIDE_OPTIONS[0].value,
  minConfidence: "60",
  level: "",
  direction: DIRECTION_OPTIONS[0].value,
  notifyEmail: false,
};

/** Only the fields of the chosen kind: the API refuses the others. */
function ruleRequest(form: RuleForm) {
  const kind = Number(form.kind) as AlertKind;
  const base = { symbol: form.symbol, timeframe: form.timeframe, kind, notifyEmail: form.notifyEmail };
  if (kind === AlertKind.SIGNAL) return { ...base, side: Number(form.side), minConfidence: Number(form.minConfidence) / 100 };
  if (kind === AlertKind.PRICE_CROSS) return { ...base, level: Number(form.level), direction: Number(form.direction) };
  return base;
}

/** The signed-in user's alert rules, the alerts they fired, and new ones as toasts while open. */
export function AlertsPage() {
  const queryClient = useQueryClient();
  const [form, setForm] = useState<RuleForm>(EMPTY);
  const set = (key: keyof RuleForm) => (value: string) => setForm((f) => ({ ...f, [key]: value }));
  // The same query (key and data) as the market page's: the cache holds one reply per key, and a
  // different shape under the same key crashed whichever page came second without a reload.
  const symbols = useQuery({
    queryKey: ["market", "symbols"],
    queryFn: () => marketClient.listSymbols({}),
    select: (reply) => reply.symbols.map((s) => s.info?.symbol ?? "").filter(Boolean),
    staleTime: 60_000,
  });
  const rules = useQuery({ queryKey: ["alerts", "rules"], queryFn: async () => (await alertClient.listAlertRules({})).rules });
  const history = useQuery({ queryKey: ["alerts", "history"], queryFn: async () => (await alertClient.listAlerts({ limit: 50 })).alerts });
  const create = useMutation({
    mutationFn: (request: ReturnType<typeof ruleRequest>) => alertClient.createAlertRule(request),
    onSuccess: () => {
      toast("Alert rule created");
      void queryClient.invalidateQueries({ queryKey: ["alerts", "rules"] });
    },
  });
  const remove = useMutation({
    mutationFn: (ruleId: string) => alertClient.deleteAlertRule({ ruleId }),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["alerts", "rules"] }),
  });
  const stream = useAlertStream((alert: FiredAlert) => {
    toast(alert.message, "info", 10_000);
    queryClient.setQueryData<FiredAlert[]>(["alerts", "history"], (old) => [alert, ...(old ?? []).filter((a) => a.alertId !== alert.alertId)]);
  });
  // A rule on 5m or 15m bars needs pro: the page says so, for the timeframe it asked for, and
  // links to the plans.
  const upgrade = create.error ? planNeeded(create.error) : null;
  const error = create.error && !upgrade ? toApiError(create.error, { fields: FIELDS }) : undefined;
  const kind = Number(form.kind);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate(ruleRequest({ ...form, symbol: form.symbol || symbols.data?.[0] || "" }));
  };
  return (
    <div>
      <PageHeader title="Alerts" lead="Rules checked on every new bar; what they fired, live and by email if you ask." />
      <p className="muted" data-testid="alert-stream-state">
        Live alerts: {stream}
      </p>
      <Card title="New alert rule">
        <form onSubmit={submit} className="form-grid" noValidate>
          <SelectField
            label="Symbol"
            name="symbol"
            value={form.symbol || symbols.data?.[0] || ""}
            onChange={set("symbol")}
            options={(symbols.data ?? []).map((s) => ({ value: s, label: s }))}
            error={error?.fieldErrors.symbol}
          />
          <SelectField label="Timeframe" name="timeframe" value={form.timeframe} onChange={set("timeframe")} options={TIMEFRAMES} error={error?.fieldErrors.timeframe} />
          <SelectField label="Condition" name="kind" value={form.kind} onChange={set("kind")} options={KIND_OPTIONS} error={error?.fieldErrors.kind} />
          {kind === AlertKind.SIGNAL && (
            <>
              <SelectField label="Side" name="side" value={form.side} onChange={set("side")} options={SIDE_OPTIONS} error={error?.fieldErrors.side} />
              <TextField
                label="Least confidence (%)"
                name="minConfidence"
                inputMode="numeric"
                value={form.minConfidence}
                onChange={set("minConfidence")}
                error={error?.fieldErrors.minConfidence}
              />
            </>
          )}
          {kind === AlertKind.PRICE_CROSS && (
            <>
              <TextField label="Level" name="level" inputMode="decimal" value={form.level} onChange={set("level")} required error={error?.fieldErrors.level} />
              <SelectField label="Direction" name="direction" value={form.direction} onChange={set("direction")} options={DIRECTION_OPTIONS} error={error?.fieldErrors.direction} />
            </>
          )}
          <label className="checkbox">
            <input type="checkbox" checked={form.notifyEmail} onChange={(e) => setForm((f) => ({ ...f, notifyEmail: e.target.checked }))} />
            Also send me an email
          </label>
          {upgrade && <UpgradePrompt feature={`Alerts on ${create.variables?.timeframe} bars`} needed={upgrade} testId="alert-upgrade" />}
          {error && !Object.keys(error.fieldErrors).length && <Alert>{error.message}</Alert>}
          <div className="form-actions">
            <Button type="submit" busy={create.isPending} data-testid="create-rule">
              Add rule
            </Button>
          </div>
        </form>
      </Card>
      <Card title="Your rules">
        {rules.isPending && <Loading />}
        {rules.isError && <Alert>{toApiError(rules.error).message}</Alert>}
        {remove.error && <Alert>{toApiError(remove.error).message}</Alert>}
        {rules.data?.length === 0 && <p>No rule yet.</p>}
        <ul className="chip-list" data-testid="rule-list">
          {rules.data?.map((rule) => (
            <li key={rule.ruleId} data-testid="rule">
              <span>{describeRule(rule)}</span>
              {rule.notifyEmail && <span className="muted"> (email)</span>}{" "}
              <Button variant="secondary" onClick={() => remove.mutate(rule.ruleId)} aria-label={`Delete rule: ${describeRule(rule)}`}>
                Delete
              </Button>
            </li>
          ))}
        </ul>
      </Card>
      <Card title="Fired alerts">
        {history.isPending && <Loading />}
        {history.isError && <Alert>{toApiError(history.error).message}</Alert>}
        {history.data?.length === 0 && <p>Nothing fired yet.</p>}
        {!!history.data?.length && (
          <div className="table-scroll">
            <table className="table" data-testid="alert-history">
              <thead>
                <tr>
                  <th scope="col">Fired</th>
                  <th scope="col">Bar</th>
                  <th scope="col">Alert</th>
                </tr>
              </thead>
              <tbody>
                {history.data.map((a) => (
                  <tr key={a.alertId} data-testid="fired-alert">
                    <td>{formatDateTime(timestampDate(a.firedAt))}</td>
                    <td>{formatDateTime(timestampDate(a.barTime))}</td>
                    <td>{a.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </div>
  );
}
