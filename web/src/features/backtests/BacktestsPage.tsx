import { ExitReason, type BacktestMetrics, type RunBacktestResponse, type Trade, TradeSide } from "@gen/trading/market/v1/backtest_service_pb";
import { useMutation, useQuery } from "@tanstack/react-query";
import { type FormEvent, useEffect, useMemo, useRef, useState } from "react";
import { type PlanNeeded, planNeeded, toApiError } from "../../api/errors";
import { mlQueryRetry } from "../../api/mlRetry";
import { backtestClient, marketClient } from "../../api/marketClients";
import { formatDateTime } from "../../lib/format";
import { formatMoney, formatPercent, formatPrice, formatRatio, priceDecimals } from "../../lib/marketFormat";
import { initialValues, paramFields } from "../../lib/params";
import { timestampDate } from "../../lib/time";
import { Button } from "../../ui/Button";
import { SelectField, TextField } from "../../ui/Field";
import { FormError } from "../../ui/FormError";
import { UpgradePrompt } from "../../ui/UpgradePrompt";
import { Card, PageHeader } from "../../ui/page";
import { columnCandles, timeframesFrom } from "../market/chartData";
import { ChartCredit } from "../market/ChartCredit";
import { PriceChart } from "../market/PriceChart";
import { QueryStatus } from "../market/QueryStatus";
import {
  apiFields,
  type BacktestFormValues,
  DEFAULT_FORM,
  equityAndDrawdown,
  readBacktestForm,
  type SortDirection,
  sortTrades,
  tradeMarkers,
  type TradeSortKey,
} from "./backtestForm";
import { EquityChart } from "./EquityChart";
import { SavedBacktests } from "./SavedBacktests";
import { SweepCard } from "./SweepCard";

const EXIT_REASONS: Record<number, string> = {
  [ExitReason.SIGNAL]: "signal",
  [ExitReason.STOP_LOSS]: "stop-loss",
  [ExitReason.TAKE_PROFIT]: "take-profit",
  [ExitReason.END]: "end of data",
};

function signClass(v: number): string | undefined {
  return v > 0 ? "positive" : v < 0 ? "negative" : undefined;
}

function Metrics({ m, testId }: { m: BacktestMetrics; testId?: string }) {
  const items: [string, string, number?][] = [
    ["Total return", formatPercent(m.totalReturn), m.totalReturn],
    ["Buy and hold", formatPercent(m.buyAndHoldReturn), m.buyAndHoldReturn],
    ["Final equity", formatMoney(m.finalEquity)],
    ["CAGR", formatPercent(m.cagr), m.cagr],
    ["Sharpe", formatRatio(m.sharpe)],
    ["Sortino", formatRatio(m.sortino)],
    ["Max drawdown", formatPercent(-Math.abs(m.maxDrawdown)), -Math.abs(m.maxDrawdown)],
    ["Volatility (annual)", formatPercent(m.annualVolatility)],
    ["Trades", String(m.trades)],
    ["Win rate", formatPercent(m.winRate, 1)],
    ["Profit factor", formatRatio(m.profitFactor)],
    ["Expectancy", formatMoney(m.expectancy), m.expectancy],
    ["Exposure", formatPercent(m.exposure, 1)],
    ["Bars", String(m.bars)],
  ];
  return (
    <dl className="metrics" data-testid={testId}>
      {items.map(([label, value, sign]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd className={sign === undefined ? undefined : signClass(sign)}>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

/** Trades listed at a time (a long run has thousands). */
const TRADES_PAGE = 50;

const COLUMNS: { key: TradeSortKey; label: string; num?: boolean }[] = [
  { key: "entryTime", label: "Entry" },
  { key: "exitTime", label: "Exit" },
  { key: "side", label: "Side" },
  { key: "pnl", label: "P&L", num: true },
  { key: "returnPct", label: "Return", num: true },
  { key: "exitReason", label: "Exit reason" },
];

function TradesTable({ trades, decimals }: { trades: Trade[]; decimals: number }) {
  const [sort, setSort] = useState<{ key: TradeSortKey; direction: SortDirection }>({ key: "entryTime", direction: "ascending" });
  const sorted = useMemo(() => sortTrades(trades, sort.key, sort.direction), [trades, sort]);
  const [shown, setShown] = useState(TRADES_PAGE);
  const toggle = (key: TradeSortKey) =>
    setSort((s) => ({ key, direction: s.key === key && s.direction === "ascending" ? "descending" : "ascending" }));
  if (trades.length === 0) return <p className="muted">The strategy made no trade in this range.</p>;
  return (
    <div className="table-scroll" role="region" aria-label="Trades" tabIndex={0}>
      <table className="table" data-testid="trades-table">
        <caption className="visually-hidden">Trades; the column headers sort them</caption>
        <thead>
          <tr>
            {COLUMNS.map((c) => (
              <th key={c.key} scope="col" className={c.num ? "num" : undefined} aria-sort={sort.key === c.key ? sort.direction : undefined}>
                <button type="button" className="sort-button" onClick={() => toggle(c.key)} data-testid={`sort-${c.key}`}>
                  {c.label}
                  <span aria-hidden="true">{sort.key === c.key ? (sort.direction === "ascending" ? " ▲" : " ▼") : ""}</span>
                </button>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {sorted.slice(0, shown).map((t, i) => (
            <tr key={`${t.entryBar}-${t.exitBar}-${i}`} data-testid="trade-row" data-pnl={t.pnl}>
              <td className="time">
                {formatDateTime(timestampDate(t.entryTime))}
                <br />
                <span className="muted small">{formatPrice(t.entryPrice, decimals)}</span>
              </td>
              <td className="time">
                {formatDateTime(timestampDate(t.exitTime))}
                <br />
                <span className="muted small">{formatPrice(t.exitPrice, decimals)}</span>
              </td>
              <td>{t.side === TradeSide.LONG ? "long" : "short"}</td>
              <td className={`num ${signClass(t.pnl) ?? ""}`}>{formatMoney(t.pnl)}</td>
              <td className={`num ${signClass(t.returnPct) ?? ""}`}>{formatPercent(t.returnPct)}</td>
              <td>{EXIT_REASONS[t.exitReason] ?? "–"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {shown < sorted.length && (
        <p className="form-actions">
          <span className="muted">
            Showing {shown} of {sorted.length} trades.
          </span>
          <Button variant="secondary" onClick={() => setShown((n) => n + TRADES_PAGE)} data-testid="more-trades">
            Show {Math.min(TRADES_PAGE, sorted.length - shown)} more
          </Button>
        </p>
      )}
    </div>
  );
}

function Results({ result, decimals, range }: { result: RunBacktestResponse; decimals: number; range: { start: string; end: string } }) {
  const curves = useMemo(() => equityAndDrawdown(result.equityCurve), [result]);
  const markers = useMemo(() => tradeMarkers(result.trades), [result]);
  const bars = useQuery({
    queryKey: ["backtests", "bars", result.symbol, result.timeframe, range.start, range.end],
    queryFn: () => marketClient.getHistory({ symbol: result.symbol, timeframe: result.timeframe, start: range.start, end: range.end, limit: 5000, packed: true }),
    ...mlQueryRetry,
  });
  const candles = useMemo(() => columnCandles(bars.data?.columns), [bars.data]);
  const m = result.metrics;
  const params = Object.entries(result.params)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  return (
    <div className="stack" data-testid="backtest-results">
      <Card title="Results" id="results">
        <p className="muted">
          {result.strategy} on {result.symbol} {result.timeframe}
          {params && ` (${params})`}
          {m && ` · ${formatDateTime(timestampDate(m.start))} to ${formatDateTime(timestampDate(m.end))}`} · computed in{" "}
          {Math.round(result.elapsedMs)} ms
        </p>
        {m && <Metrics m={m} testId="metrics" />}
      </Card>
      <Card title="Equity and drawdown" id="equity">
        <EquityChart equity={curves.equity} drawdown={curves.drawdown} label={`Equity curve of ${curves.equity.length} points, drawdown below`} />
      </Card>
      <Card title="Trades on the chart" id="trades-on-chart">
        <QueryStatus query={bars} loading="Loading bars…" />
        {bars.data?.nextPageToken && <p className="muted small">The chart shows the last {candles.length} bars of the range.</p>}
        <PriceChart
          candles={candles}
          markers={markers}
          decimals={decimals}
          label={`${result.symbol} ${result.timeframe} candles with ${result.trades.length} trades marked`}
          testId="trade-chart"
        />
        <ChartCredit />
      </Card>
      <Card title={`Trades (${result.trades.length})`} id="trades">
        <TradesTable trades={result.trades} decimals={decimals} />
      </Card>
      {result.folds.length > 0 && (
        <Card title="Walk-forward folds" id="folds">
          <div className="table-scroll" role="region" aria-label="Walk-forward folds" tabIndex={0}>
            <table className="table" data-testid="folds-table">
              <caption className="visually-hidden">Metrics of each walk-forward fold</caption>
              <thead>
                <tr>
                  <th scope="col">Fold</th>
                  <th scope="col">From</th>
                  <th scope="col" className="num">Return</th>
                  <th scope="col" className="num">Sharpe</th>
                  <th scope="col" className="num">Max drawdown</th>
                  <th scope="col" className="num">Trades</th>
                  <th scope="col" className="num">Win rate</th>
                </tr>
              </thead>
              <tbody>
                {result.folds.map((f, i) => (
                  <tr key={i}>
                    <th scope="row">{i + 1}</th>
                    <td className="time">{formatDateTime(timestampDate(f.start))}</td>
                    <td className={`num ${signClass(f.totalReturn) ?? ""}`}>{formatPercent(f.totalReturn)}</td>
                    <td className="num">{formatRatio(f.sharpe)}</td>
                    <td className="num">{formatPercent(-Math.abs(f.maxDrawdown))}</td>
                    <td className="num">{f.trades}</td>
                    <td className="num">{formatPercent(f.winRate, 1)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Card>
      )}
    </div>
  );
}

export function BacktestsPage() {
  const strategies = useQuery({ queryKey: ["backtests", "strategies"], queryFn: () => backtestClient.listStrategies({}), staleTime: Infinity, ...mlQueryRetry });
  const symbols = useQuery({ queryKey: ["market", "symbols"], queryFn: () => marketClient.listSymbols({}), staleTime: 60_000, ...mlQueryRetry });
  const [form, setForm] = useState<BacktestFormValues>({ ...DEFAULT_FORM, strategy: "", symbol: "", timeframe: "", params: {} });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  // Refused for want of a plan (ml_signals, a range over a year): the prompt instead of an error.
  const [upgrade, setUpgrade] = useState<{ feature: string; needed: PlanNeeded } | null>(null);
  const [range, setRange] = useState({ start: "", end: "" });
  const formRef = useRef<HTMLFormElement>(null);

  const catalogue = strategies.data?.strategies ?? [];
  const info = catalogue.find((s) => s.name === form.strategy);
  const fields = useMemo(() => paramFields(info?.parameters ?? []), [info]);
  const symbolList = symbols.data?.symbols ?? [];
  const summary = symbolList.find((s) => s.info?.symbol === form.symbol);
  const frames = timeframesFrom(summary?.baseTimeframe ?? "");
  const decimals = priceDecimals(summary?.info?.tickSize);

  // Defaults once the catalogues arrive.
  useEffect(() => {
    if (catalogue.length === 0 || symbolList.length === 0) return;
    setForm((f) => {
      const strategy = f.strategy || catalogue[0]?.name || "";
      const symbol = f.symbol || symbolList.find((s) => s.info?.symbol === "EURUSD")?.info?.symbol || symbolList[0]?.info?.symbol || "";
      const base = symbolList.find((s) => s.info?.symbol === symbol)?.baseTimeframe ?? "";
      const params = f.strategy ? f.params : initialValues(paramFields(catalogue.find((s) => s.name === strategy)?.parameters ?? []));
      return { ...f, strategy, symbol, timeframe: f.timeframe || timeframesFrom(base)[0] || "", params };
    });
  }, [catalogue, symbolList]);

  const set = <K extends keyof BacktestFormValues>(key: K, value: BacktestFormValues[K]) => setForm((f) => ({ ...f, [key]: value }));
  const chooseStrategy = (name: string) => {
    const next = catalogue.find((s) => s.name === name);
    setForm((f) => ({ ...f, strategy: name, params: initialValues(paramFields(next?.parameters ?? [])) }));
    setErrors({});
  };
  const chooseSymbol = (symbol: string) => {
    const base = symbolList.find((s) => s.info?.symbol === symbol)?.baseTimeframe ?? "";
    setForm((f) => ({ ...f, symbol, timeframe: timeframesFrom(base)[0] ?? "" }));
  };

  const run = useMutation({
    mutationFn: (request: NonNullable<ReturnType<typeof readBacktestForm>["request"]>) =>
      backtestClient.runBacktest(request, { timeoutMs: 45_000 }),
  });

  const focusFirstError = () =>
    requestAnimationFrame(() => formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"], .form-error-anchor')?.focus());

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const timeframe = (frames as string[]).includes(form.timeframe) ? form.timeframe : (frames[0] ?? "");
    const { request, errors: found } = readBacktestForm({ ...form, timeframe }, fields);
    setErrors(found);
    setFormError(null);
    setUpgrade(null);
    if (!request) {
      focusFirstError();
      return;
    }
    setRange({ start: form.start, end: form.end });
    run.mutate(request, {
      onError: (err) => {
        const needed = planNeeded(err);
        if (needed) {
          const feature = needed.field === "strategy" ? `The ${form.strategy} strategy` : "A backtest over more than a year";
          setUpgrade({ feature, needed });
          return;
        }
        const apiError = toApiError(err, { fields: apiFields(fields) });
        setErrors(apiError.fieldErrors);
        setFormError(apiError.message);
        focusFirstError();
      },
    });
  };

  const text = (name: keyof BacktestFormValues, label: string, extra: Record<string, unknown> = {}) => (
    <TextField
      label={label}
      name={name}
      value={form[name] as string}
      onChange={(v) => set(name, v as never)}
      error={errors[name]}
      markOptional={false}
      {...extra}
    />
  );

  return (
    <div className="page">
      <PageHeader title="Backtests" lead="Run a strategy from the catalogue over stored bars, with costs, and see how it would have done." />
      <QueryStatus query={strategies} testId="strategies-error" />
      <QueryStatus query={symbols} testId="symbols-error" />
      {strategies.data && symbols.data && (
        <form ref={formRef} onSubmit={submit} noValidate className="card" aria-labelledby="backtest-form-title" data-testid="backtest-form">
          <h2 id="backtest-form-title">Run a backtest</h2>
          <FormError message={formError} />
          {upgrade && <UpgradePrompt feature={upgrade.feature} needed={upgrade.needed} testId="backtest-upgrade" />}
          <div className="form-grid">
            <SelectField
              label="Strategy"
              name="strategy"
              value={form.strategy}
              onChange={chooseStrategy}
              error={errors.strategy}
              options={catalogue.map((s) => ({ value: s.name, label: s.name }))}
            />
            <SelectField
              label="Symbol"
              name="symbol"
              value={form.symbol}
              onChange={chooseSymbol}
              error={errors.symbol}
              options={symbolList.map((s) => ({ value: s.info?.symbol ?? "", label: s.info?.symbol ?? "" }))}
            />
            <SelectField
              label="Timeframe"
              name="timeframe"
              value={form.timeframe}
              onChange={(v) => set("timeframe", v)}
              error={errors.timeframe}
              options={frames.map((t) => ({ value: t, label: t }))}
            />
          </div>
          {info?.description && <p className="muted" data-testid="strategy-description">{info.description}</p>}
          {fields.length > 0 && (
            <fieldset className="form-section" data-testid="strategy-params">
              <legend>Parameters of {form.strategy}</legend>
              <div className="form-grid">
                {fields.map((f) => (
                  <TextField
                    key={`${form.strategy}-${f.name}`}
                    label={f.label}
                    name={`param.${f.name}`}
                    type="number"
                    inputMode={f.integer ? "numeric" : "decimal"}
                    min={f.min}
                    max={f.max}
                    step={f.step}
                    value={form.params[f.name] ?? ""}
                    onChange={(v) => setForm((old) => ({ ...old, params: { ...old.params, [f.name]: v } }))}
                    error={errors[`param.${f.name}`]}
                    hint={f.hint}
                    markOptional={false}
                  />
                ))}
              </div>
            </fieldset>
          )}
          <fieldset className="form-section">
            <legend>Range</legend>
            <div className="form-grid">
              {text("start", "Start", { type: "date", hint: "Empty: the first stored bar" })}
              {text("end", "End (exclusive)", { type: "date", hint: "Empty: after the last stored bar" })}
              {text("walkForwardSplits", "Walk-forward folds", { type: "number", min: 0, max: 20, step: 1, hint: "0: none; else 2 to 20" })}
            </div>
          </fieldset>
          <fieldset className="form-section">
            <legend>Money and costs</legend>
            <div className="form-grid">
              {text("initialCash", "Starting cash", { type: "number", min: 0, step: "any", inputMode: "decimal" })}
              {text("commissionPct", "Commission (% per side)", { type: "number", min: 0, max: 10, step: "any", inputMode: "decimal" })}
              {text("slippagePct", "Slippage (%)", { type: "number", min: 0, max: 10, step: "any", inputMode: "decimal" })}
              {text("positionPct", "Position size (% of equity)", { type: "number", min: 0, max: 100, step: "any", inputMode: "decimal" })}
              {text("stopLossPct", "Stop-loss (% from entry)", { type: "number", min: 0, max: 100, step: "any", inputMode: "decimal", hint: "0: none" })}
              {text("takeProfitPct", "Take-profit (% from entry)", { type: "number", min: 0, max: 100, step: "any", inputMode: "decimal", hint: "0: none" })}
            </div>
            <div className="field field-check">
              <label>
                <input type="checkbox" className="field-check-input" checked={form.allowShort} onChange={(e) => set("allowShort", e.target.checked)} />
                Allow short positions
              </label>
            </div>
          </fieldset>
          <div className="form-actions">
            <Button type="submit" busy={run.isPending} data-testid="run-backtest">
              {run.isPending ? "Running…" : "Run backtest"}
            </Button>
          </div>
        </form>
      )}
      {strategies.data && symbols.data && (
        <SweepCard
          fields={fields}
          read={() => {
            const timeframe = (frames as string[]).includes(form.timeframe) ? form.timeframe : (frames[0] ?? "");
            return readBacktestForm({ ...form, timeframe }, fields).request;
          }}
        />
      )}
      {run.data && <Results result={run.data} decimals={decimals} range={range} />}
      <SavedBacktests request={run.data ? run.variables : undefined} result={run.data} />
    </div>
  );
}
