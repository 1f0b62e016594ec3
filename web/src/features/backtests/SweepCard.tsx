import { SweepRank, type RunSweepResponse } from "@gen/trading/market/v1/backtest_service_pb";
import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { toApiError } from "../../api/errors";
import { backtestClient } from "../../api/marketClients";
import { formatPercent, formatRatio } from "../../lib/marketFormat";
import type { ParamField } from "../../lib/params";
import { Button } from "../../ui/Button";
import { SelectField, TextField } from "../../ui/Field";
import { FormError } from "../../ui/FormError";
import { Card } from "../../ui/page";
import { type BacktestRequestInit, readSweepGrid } from "./backtestForm";

const RANKS: { value: string; label: string; rank: SweepRank }[] = [
  { value: "sharpe", label: "Sharpe ratio", rank: SweepRank.SHARPE },
  { value: "total_return", label: "Total return", rank: SweepRank.TOTAL_RETURN },
  { value: "sortino", label: "Sortino ratio", rank: SweepRank.SORTINO },
  { value: "profit_factor", label: "Profit factor", rank: SweepRank.PROFIT_FACTOR },
  { value: "max_drawdown", label: "Smallest max drawdown", rank: SweepRank.MAX_DRAWDOWN },
];
const TOP = 10;

/**
 * A parameter sweep: the backtest form above (strategy, symbol, range, costs) over every
 * combination of the values given here, ranked by the chosen metric, best first.
 */
export function SweepCard({ fields, read }: { fields: readonly ParamField[]; read: () => BacktestRequestInit | null }) {
  const [texts, setTexts] = useState<Record<string, string>>({});
  const [rank, setRank] = useState("sharpe");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const sweep = useMutation({
    mutationFn: (request: Parameters<typeof backtestClient.runSweep>[0]) => backtestClient.runSweep(request, { timeoutMs: 45_000 }),
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setFormError(null);
    const { grid, errors: found } = readSweepGrid(texts, fields);
    setErrors(found);
    const backtest = read();
    if (!backtest) {
      setFormError("Fix the backtest form above first");
      return;
    }
    if (!grid) return;
    const rankBy = RANKS.find((r) => r.value === rank)?.rank ?? SweepRank.SHARPE;
    sweep.mutate(
      { backtest, grid, rankBy, top: TOP },
      { onError: (err) => setFormError(toApiError(err).message) },
    );
  };

  if (fields.length === 0) return null;
  return (
    <Card title="Sweep parameters" id="sweep-card">
      <form onSubmit={submit} noValidate aria-label="Sweep parameters" data-testid="sweep-form">
        <p className="muted">
          Runs the backtest above once for every combination of the values below (comma-separated; empty: the value above) and
          ranks the results. At most 1,000 combinations.
        </p>
        <FormError message={formError ?? errors.sweep ?? null} />
        <div className="form-grid">
          {fields.map((f) => (
            <TextField
              key={f.name}
              label={`${f.label} values`}
              name={`sweep.${f.name}`}
              value={texts[f.name] ?? ""}
              onChange={(v) => setTexts((t) => ({ ...t, [f.name]: v }))}
              error={errors[`sweep.${f.name}`]}
              hint={`for example ${f.initial}, ${f.integer ? Number(f.initial) * 2 : f.initial}`}
              markOptional={false}
            />
          ))}
          <SelectField label="Rank by" name="rank" value={rank} onChange={setRank} options={RANKS.map(({ value, label }) => ({ value, label }))} />
        </div>
        <div className="form-actions">
          <Button type="submit" busy={sweep.isPending} data-testid="run-sweep">
            {sweep.isPending ? "Sweeping…" : "Run sweep"}
          </Button>
        </div>
      </form>
      {sweep.data && <SweepTable result={sweep.data} />}
    </Card>
  );
}

function SweepTable({ result }: { result: RunSweepResponse }) {
  const names = Object.keys(result.results[0]?.params ?? {});
  return (
    <div className="table-scroll" role="region" aria-label="Sweep results" tabIndex={0}>
      <p className="muted" data-testid="sweep-summary">
        {result.evaluated} combinations on {result.bars} bars{result.skipped ? `, ${result.skipped} refused by the strategy` : ""}, in{" "}
        {Math.round(result.elapsedMs)} ms; the best {result.results.length}:
      </p>
      <table className="table" data-testid="sweep-table">
        <thead>
          <tr>
            <th scope="col">Rank</th>
            {names.map((n) => (
              <th key={n} scope="col" className="num">
                {n}
              </th>
            ))}
            <th scope="col" className="num">Return</th>
            <th scope="col" className="num">Sharpe</th>
            <th scope="col" className="num">Max drawdown</th>
            <th scope="col" className="num">Trades</th>
          </tr>
        </thead>
        <tbody>
          {result.results.map((r) => (
            <tr key={r.rank} data-testid="sweep-row" data-rank={r.rank} data-sharpe={r.metrics?.sharpe}>
              <th scope="row">{r.rank}</th>
              {names.map((n) => (
                <td key={n} className="num">
                  {r.params[n]}
                </td>
              ))}
              <td className="num">{formatPercent(r.metrics?.totalReturn ?? 0)}</td>
              <td className="num">{formatRatio(r.metrics?.sharpe ?? 0)}</td>
              <td className="num">{formatPercent(-Math.abs(r.metrics?.maxDrawdown ?? 0))}</td>
              <td className="num">{r.metrics?.trades ?? 0}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
