/**
 * A lesson's live blocks, drawn in the learner's browser with the learner's own token through the
 * generated clients: a chart from stored history (with indicators), the model's current signal
 * with its live score, a backtest the learner re-runs with their parameters, and a forecasting
 * exercise scored by the server. Loaded lazily by LessonPage (the chart library stays out of
 * every other page's bundle).
 */
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import {
  ForecastDirection,
  type ChartBlock,
  type ForecastBlock,
  type ForecastResult,
  type LessonBlock,
  type Progress,
  type SignalBlock,
  type TryItBlock,
} from "@gen/trading/education/v1/education_pb";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { learningClient } from "../../api/educationClients";
import { toApiError } from "../../api/errors";
import { backtestClient, indicatorClient, marketClient, predictionClient } from "../../api/marketClients";
import { formatPercent, formatPrice, formatRatio } from "../../lib/marketFormat";
import { Alert, Loading } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { type Candle, columnCandles, indicatorLayout, rfc3339, toChartTime } from "../market/chartData";
import { PriceChart } from "../market/PriceChart";
import { SignalDetails } from "../market/SignalCard";

const MAX_CHART_BARS = 500;

function decimalsOf(candles: readonly Candle[]): number {
  const last = candles[candles.length - 1]?.close ?? 0;
  return last !== 0 && Math.abs(last) < 10 ? 5 : 2;
}

function IndicatorChart({ symbol, timeframe, candles, specs, label, testId }: { symbol: string; timeframe: string; candles: Candle[]; specs: string[]; label: string; testId: string }) {
  const last = candles[candles.length - 1];
  const indicators = useQuery({
    queryKey: ["lesson-block", "indicators", symbol, timeframe, specs, last?.time, candles.length],
    enabled: specs.length > 0 && candles.length > 0,
    queryFn: () => indicatorClient.getIndicators({ symbol, timeframe, indicators: specs, limit: candles.length, end: last ? rfc3339(last.time + 1) : "", packed: true }),
    staleTime: Infinity,
  });
  const layout = useMemo(
    () => (indicators.data ? indicatorLayout(indicators.data.timeSeconds, indicators.data.indicators, candles.map((c) => c.close)) : { overlays: [], panes: [] }),
    [indicators.data, candles],
  );
  return (
    <div data-testid={testId} data-bars={candles.length} data-indicators={indicators.data?.indicators.length ?? 0}>
      <PriceChart candles={candles} overlays={layout.overlays} panes={layout.panes} decimals={decimalsOf(candles)} label={label} />
      {indicators.error && <Alert tone="warning">{toApiError(indicators.error).message}</Alert>}
    </div>
  );
}

function ChartView({ block }: { block: ChartBlock }) {
  const history = useQuery({
    queryKey: ["lesson-block", "history", block.symbol, block.timeframe, block.start, block.end],
    queryFn: () => marketClient.getHistory({ symbol: block.symbol, timeframe: block.timeframe, start: block.start, end: block.end, limit: MAX_CHART_BARS, packed: true }),
    staleTime: Infinity,
  });
  const candles = useMemo(() => columnCandles(history.data?.columns), [history.data]);
  if (history.isPending) return <Loading label="Loading the chart…" />;
  if (history.error) return <Alert>{toApiError(history.error).message}</Alert>;
  return (
    <IndicatorChart
      symbol={block.symbol}
      timeframe={block.timeframe}
      candles={candles}
      specs={block.indicators}
      label={`${block.symbol} ${block.timeframe}, ${candles.length} bars${block.indicators.length ? ` with ${block.indicators.join(", ")}` : ""}`}
      testId="live-chart"
    />
  );
}

function SignalView({ block }: { block: SignalBlock }) {
  const signal = useQuery({
    queryKey: ["lesson-block", "signal", block.symbol, block.timeframe],
    queryFn: () => predictionClient.getSignals({ symbol: block.symbol, timeframe: block.timeframe }),
    retry: false,
  });
  const scores = useQuery({
    queryKey: ["lesson-block", "scores", block.symbol],
    queryFn: () => predictionClient.getPredictionScores({ symbol: block.symbol }),
    retry: false,
  });
  if (signal.isPending) return <Loading label="Asking the model…" />;
  if (signal.error) return <Alert tone="info">The model has no signal for {block.symbol} now: {toApiError(signal.error).message}</Alert>;
  const score = scores.data?.scores[0];
  return (
    <div data-testid="live-signal">
      {signal.data.signal && <SignalDetails signal={signal.data.signal} decimals={block.symbol.endsWith("USD") ? 5 : 2} />}
      {score && (
        <p className="muted small" data-testid="live-score">
          The model's live score on {score.symbol} ({score.horizon}): take-profit hit rate {formatPercent(score.tpHitRate)}, range coverage{" "}
          {formatPercent(score.coverage)}, {String(score.realized)} predictions realised.
        </p>
      )}
    </div>
  );
}

function TryItView({ block }: { block: TryItBlock }) {
  const [params, setParams] = useState<Record<string, number>>({ ...block.params });
  const run = useMutation({
    mutationFn: () =>
      backtestClient.runBacktest({
        strategy: block.strategy,
        symbol: block.symbol,
        timeframe: block.timeframe,
        startDate: block.startDate,
        endDate: block.endDate,
        params,
        commission: block.commission,
        maxEquityPoints: 200,
      }),
  });
  const m = run.data?.metrics;
  return (
    <div data-testid="live-try-it">
      <form
        className="filters"
        aria-label={`Parameters of ${block.strategy}`}
        onSubmit={(e) => {
          e.preventDefault();
          run.mutate();
        }}
      >
        {block.editableParams.map((name) => (
          <label key={name} className="field">
            <span>{name}</span>
            <input
              type="number"
              step="any"
              name={name}
              value={params[name] ?? ""}
              onChange={(e) => setParams({ ...params, [name]: Number(e.target.value) })}
            />
          </label>
        ))}
        <Button type="submit" busy={run.isPending} data-testid="run-backtest">
          Run {block.strategy} on {block.symbol}
        </Button>
      </form>
      {run.error && <Alert>{toApiError(run.error).message}</Alert>}
      {m && (
        <table className="table" data-testid="backtest-metrics">
          <caption className="visually-hidden">Backtest results</caption>
          <tbody>
            <tr><th scope="row">Total return</th><td className="num">{formatPercent(m.totalReturn)}</td></tr>
            <tr><th scope="row">Buy and hold</th><td className="num">{formatPercent(m.buyAndHoldReturn)}</td></tr>
            <tr><th scope="row">Sharpe</th><td className="num">{formatRatio(m.sharpe)}</td></tr>
            <tr><th scope="row">Max drawdown</th><td className="num">{formatPercent(m.maxDrawdown)}</td></tr>
            <tr><th scope="row">Trades</th><td className="num">{m.trades}</td></tr>
          </tbody>
        </table>
      )}
    </div>
  );
}

function directionName(d: ForecastDirection): string {
  return d === ForecastDirection.UP ? "up" : d === ForecastDirection.DOWN ? "down" : "no answer";
}

function seconds(ts: Timestamp | undefined): number {
  return toChartTime(ts);
}

function ForecastView({ block, blockId, courseId, lessonId, kept, onScored }: { block: ForecastBlock; blockId: string; courseId: string; lessonId: string; kept?: ForecastResult; onScored: (p: Progress | undefined) => void }) {
  const submit = useMutation({
    mutationFn: (direction: ForecastDirection) => learningClient.submitForecast({ courseId, lessonId, blockId, direction }),
    onSuccess: (r) => onScored(r.progress),
  });
  const result = submit.data?.result ?? kept;
  // Before answering: the window only. After: up to the bar that decided it.
  const end = result ? seconds(result.outcomeBarTime) + 1 : seconds(block.windowEnd) + 1;
  const history = useQuery({
    queryKey: ["lesson-block", "forecast", block.symbol, block.timeframe, end],
    queryFn: () => marketClient.getHistory({ symbol: block.symbol, timeframe: block.timeframe, end: rfc3339(end), limit: block.windowBars + (result ? block.horizonBars : 0) }),
    staleTime: Infinity,
  });
  const candles = useMemo(() => columnCandles(history.data?.columns), [history.data]);
  return (
    <div data-testid="live-forecast">
      {history.isPending ? (
        <Loading label="Loading the window…" />
      ) : history.error ? (
        <Alert>{toApiError(history.error).message}</Alert>
      ) : (
        <div data-testid="forecast-chart" data-bars={candles.length}>
          <PriceChart candles={candles} decimals={decimalsOf(candles)} label={`${block.symbol} ${block.timeframe}, ${candles.length} bars`} />
        </div>
      )}
      {result ? (
        <div data-testid="forecast-result">
          <p>
            You said <strong>{directionName(result.predicted)}</strong>; {block.horizonBars} bars later the close was{" "}
            <strong data-testid="forecast-actual">{directionName(result.actual)}</strong> ({formatPrice(result.closeAtWindowEnd, 5)} →{" "}
            {formatPrice(result.closeAfter, 5)}).{" "}
            <span className={`badge ${result.correct ? "badge-ok" : "badge-warn"}`} data-testid="forecast-score">
              {result.correct ? "Right" : "Wrong"}
            </span>
          </p>
          <p className="muted small" data-testid="forecast-model">
            {result.modelPredicted === ForecastDirection.UNSPECIFIED
              ? `The model gave no answer: ${result.modelNote}`
              : `The model, as of the same bar, said ${directionName(result.modelPredicted)} (${result.modelCorrect ? "right" : "wrong"}). ${result.modelNote}`}
          </p>
        </div>
      ) : (
        <p className="actions">
          <Button busy={submit.isPending} onClick={() => submit.mutate(ForecastDirection.UP)} data-testid="forecast-up">
            Up
          </Button>{" "}
          <Button busy={submit.isPending} variant="secondary" onClick={() => submit.mutate(ForecastDirection.DOWN)} data-testid="forecast-down">
            Down
          </Button>
        </p>
      )}
      {submit.error && <Alert>{toApiError(submit.error).message}</Alert>}
    </div>
  );
}

export function LessonBlocks({ blocks, courseId, lessonId, progress, onProgress }: { blocks: LessonBlock[]; courseId: string; lessonId: string; progress?: Progress | null; onProgress: (p: Progress | undefined) => void }) {
  return (
    <div className="lesson-blocks">
      {blocks.map((b) => {
        const kept = progress?.forecastResults.find((r) => r.lessonId === lessonId && r.blockId === b.id);
        const k = b.kind;
        return (
          <figure key={b.id} className="card lesson-block" data-block={k.case ?? ""}>
            {k.case === "chart" && <ChartView block={k.value} />}
            {k.case === "signal" && <SignalView block={k.value} />}
            {k.case === "tryIt" && <TryItView block={k.value} />}
            {k.case === "forecast" && <ForecastView block={k.value} blockId={b.id} courseId={courseId} lessonId={lessonId} kept={kept} onScored={onProgress} />}
            {b.caption && <figcaption className="muted small">{b.caption}</figcaption>}
          </figure>
        );
      })}
    </div>
  );
}
