import type { HorizonPrediction, Signal } from "@gen/trading/ml/v1/prediction_pb";
import type { StreamPredictionsResponse } from "@gen/trading/ml/v1/prediction_service_pb";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useNavigate, useSearch } from "@tanstack/react-router";
import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { planNeeded, toApiError } from "../../api/errors";
import { mlQueryRetry } from "../../api/mlRetry";
import { indicatorClient, marketClient, predictionClient } from "../../api/marketClients";
import { formatMarketTime, formatPercent, formatPrice, formatSignedPct, priceDecimals } from "../../lib/marketFormat";
import { timestampDate } from "../../lib/time";
import { Alert } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { SelectField } from "../../ui/Field";
import { Card, PageHeader } from "../../ui/page";
import { UpgradePrompt } from "../../ui/UpgradePrompt";
import {
  type Band,
  bandsInView,
  type Candle,
  columnCandles,
  indicatorLayout,
  LIVE_TIMEFRAMES,
  liveCandle,
  liveStep,
  mergeCandles,
  predictionBand,
  rfc3339,
  timeframesFrom,
  toChartTime,
} from "./chartData";
import { ChartCredit } from "./ChartCredit";
import { IndicatorPicker } from "./IndicatorPicker";
import { QueryStatus } from "./QueryStatus";
import { PriceChart } from "./PriceChart";
import { actionName, SignalDetails, signalPriceLines } from "./SignalCard";
import { LiveQueue } from "./streamState";
import { streamStateLabel, useLiveStream } from "./useLiveStream";

// Paper trading on the dashboard, loaded with its own chunk when the page shows it.
const TradeSignalButton = lazy(() => import("../paper/TradeSignalButton").then((m) => ({ default: m.TradeSignalButton })));
const MarketOrderTicket = lazy(() => import("../paper/MarketOrderTicket").then((m) => ({ default: m.MarketOrderTicket })));

const PAGE_BARS = 500;
const MAX_INDICATOR_BARS = 5000;

function errorText(err: unknown): string {
  return toApiError(err).message;
}

/** Re-renders every second while `on` (for a countdown). */
function useTick(on: boolean): void {
  const [, set] = useState(0);
  useEffect(() => {
    if (!on) return;
    const id = setInterval(() => set((n) => n + 1), 1000);
    return () => clearInterval(id);
  }, [on]);
}

interface LiveState {
  prediction?: HorizonPrediction;
  signal?: Signal;
  barTime?: Date;
  close?: number;
}

export function MarketPage() {
  const search = useSearch({ from: "/market" });
  const navigate = useNavigate();

  const symbols = useQuery({
    queryKey: ["market", "symbols"],
    queryFn: () => marketClient.listSymbols({}),
    staleTime: 60_000,
    ...mlQueryRetry,
  });
  const list = symbols.data?.symbols ?? [];
  const symbol = search.symbol ?? list.find((s) => s.info?.symbol === "EURUSD")?.info?.symbol ?? list[0]?.info?.symbol ?? "";
  const summary = list.find((s) => s.info?.symbol === symbol);
  const frames = timeframesFrom(summary?.baseTimeframe ?? "");
  const timeframe = search.tf && (frames as string[]).includes(search.tf) ? search.tf : (frames[0] ?? "1h");
  const decimals = priceDecimals(summary?.info?.tickSize, undefined);
  const liveCapable = LIVE_TIMEFRAMES.includes(timeframe);

  const setSearch = (next: { symbol?: string; tf?: string }) =>
    void navigate({ to: "/market", search: { symbol: next.symbol ?? symbol, tf: next.tf ?? timeframe }, replace: true });

  // ---- candles: the first page from the query cache, then older pages and live bars ----
  const history = useQuery({
    queryKey: ["market", "history", symbol, timeframe],
    queryFn: () => marketClient.getHistory({ symbol, timeframe, limit: PAGE_BARS, packed: true }),
    enabled: Boolean(symbol),
    staleTime: 30_000,
    ...mlQueryRetry,
  });
  const [candles, setCandles] = useState<Candle[]>([]);
  const [pageToken, setPageToken] = useState("");
  const [olderBusy, setOlderBusy] = useState(false);
  const [olderError, setOlderError] = useState("");
  const candlesRef = useRef<Candle[]>([]);
  candlesRef.current = candles;
  const generation = useRef(0);
  const [following, setFollowing] = useState(true);
  const followingRef = useRef(following);
  followingRef.current = following;

  // The latest page of history; again when the live stream is turned on or off (a replay may
  // have moved the chart to another period: off, it shows the latest bars and their ranges).
  useEffect(() => {
    generation.current += 1;
    if (history.data) {
      setCandles(columnCandles(history.data.columns));
      setPageToken(history.data.nextPageToken);
    } else {
      setCandles([]);
      setPageToken("");
    }
    setOlderError("");
  }, [history.data, following]);

  const loadOlder = useCallback(async () => {
    if (!pageToken || olderBusy) return;
    const gen = generation.current;
    setOlderBusy(true);
    setOlderError("");
    try {
      const res = await marketClient.getHistory({ symbol, timeframe, limit: PAGE_BARS, pageToken, packed: true });
      if (gen !== generation.current) return;
      setCandles((prev) => mergeCandles(prev, columnCandles(res.columns)));
      setPageToken(res.nextPageToken);
    } catch (err) {
      if (gen === generation.current) setOlderError(errorText(err));
    } finally {
      setOlderBusy(false);
    }
  }, [pageToken, olderBusy, symbol, timeframe]);

  // ---- the live stream ----
  const [live, setLive] = useState<LiveState>({});
  const queue = useRef<LiveQueue | null>(null);
  queue.current ??= new LiveQueue();
  queue.current.setCurrent(`${symbol}|${timeframe}`);
  useEffect(() => setLive({}), [symbol, timeframe, following]);

  const onMessage = useCallback(
    (m: StreamPredictionsResponse) => {
      const gen = generation.current;
      const key = `${symbol}|${timeframe}`;
      // Dropped, first thing, when the symbol or timeframe changed while it waited (LiveQueue).
      void queue.current!.enqueue(key, async () => {
        if (!followingRef.current) return; // turned off while this bar waited
        const t = toChartTime(m.barTime);
        const candle = liveCandle(m);
        if (candle && liveStep(candlesRef.current, t) !== "rebase") {
          // The message carries its bar: append or replace the candle without reading the history.
          const merged = mergeCandles(candlesRef.current, [candle]);
          candlesRef.current = merged;
          setCandles(merged);
        } else {
          // The feed is elsewhere in time (or the server sent no bar): reload the history ending at it.
          try {
            const res = await marketClient.getHistory({ symbol, timeframe, end: rfc3339(t + 1), limit: PAGE_BARS, packed: true });
            if (gen !== generation.current || !followingRef.current) return;
            const bars = columnCandles(res.columns);
            generation.current += 1;
            candlesRef.current = bars;
            setCandles(bars);
            setPageToken(res.nextPageToken);
          } catch {
            // The bar's candle comes with the next one; the stream itself carries on.
          }
        }
        if (!queue.current!.isCurrent(key)) return;
        setLive({ prediction: m.prediction, signal: m.signal, barTime: timestampDate(m.barTime), close: m.close });
      });
    },
    [symbol, timeframe],
  );
  const stream = useLiveStream(symbol, timeframe, following && liveCapable && Boolean(symbol), onMessage);
  useTick(stream.kind === "reconnecting");

  // ---- predictions and signal ----
  // Every horizon; a plan without them (free: intraday only) is refused naming the plan that
  // has them, and gets what it may see plus the upgrade prompt.
  const predict = useQuery({
    queryKey: ["market", "predict", symbol],
    queryFn: async () => {
      try {
        return { response: await predictionClient.predict({ symbol, horizon: "all" }), needed: null };
      } catch (err) {
        const needed = planNeeded(err);
        if (!needed) throw err;
        return { response: await predictionClient.predict({ symbol, horizon: "intraday" }), needed };
      }
    },
    enabled: Boolean(symbol),
    staleTime: 60_000,
    ...mlQueryRetry,
  });
  // Live scores: how often the served 80% interval actually held, per horizon.
  const scores = useQuery({
    queryKey: ["market", "scores", symbol],
    queryFn: () => predictionClient.getPredictionScores({ symbol }),
    enabled: Boolean(symbol),
    staleTime: 60_000,
    ...mlQueryRetry,
  });
  const liveCoverage = useMemo(() => {
    const byHorizon = new Map<string, { coverage: number; realized: bigint }>();
    for (const s of scores.data?.scores ?? []) {
      const seen = byHorizon.get(s.horizon);
      if (s.intervalRealized > 0n && (!seen || s.intervalRealized > seen.realized)) {
        byHorizon.set(s.horizon, { coverage: s.intervalCoverage, realized: s.intervalRealized });
      }
    }
    return byHorizon;
  }, [scores.data]);
  const signalQuery = useQuery({
    queryKey: ["market", "signal", symbol, timeframe],
    queryFn: () => predictionClient.getSignals({ symbol, timeframe }),
    enabled: Boolean(symbol) && liveCapable,
    staleTime: 60_000,
    ...mlQueryRetry,
  });
  const predictions = useMemo(() => {
    const byHorizon = new Map<string, HorizonPrediction>();
    for (const p of predict.data?.response.predictions ?? []) byHorizon.set(p.horizon, p);
    if (live.prediction) byHorizon.set(live.prediction.horizon, live.prediction);
    return [...byHorizon.values()];
  }, [predict.data, live.prediction]);
  const [hiddenBands, setHiddenBands] = useState<string[]>([]);
  const allBands = useMemo(
    () => predictions.map((p) => predictionBand(p, timeframe)).filter((b): b is Band => b !== null),
    [predictions, timeframe],
  );
  const bands = useMemo(
    () => bandsInView(allBands, candles).filter((b) => !hiddenBands.includes(b.horizon)),
    [allBands, candles, hiddenBands],
  );
  const signal = live.signal ?? signalQuery.data?.signal;
  const signalNeeds = signalQuery.isError ? planNeeded(signalQuery.error) : null;
  const priceLines = useMemo(() => signalPriceLines(signal), [signal]);

  // ---- indicators ----
  const catalogue = useQuery({
    queryKey: ["market", "indicator-catalogue"],
    queryFn: () => indicatorClient.listIndicators({}),
    staleTime: Infinity,
    ...mlQueryRetry,
  });
  const [specs, setSpecs] = useState<string[]>([]);
  const last = candles[candles.length - 1];
  const indicatorBars = Math.min(candles.length, MAX_INDICATOR_BARS);
  const indicators = useQuery({
    queryKey: ["market", "indicators", symbol, timeframe, specs, last?.time, indicatorBars],
    queryFn: () =>
      indicatorClient.getIndicators({
        symbol,
        timeframe,
        indicators: specs,
        limit: indicatorBars,
        end: last ? rfc3339(last.time + 1) : "",
        packed: true,
      }),
    enabled: Boolean(symbol) && specs.length > 0 && candles.length > 0,
    placeholderData: keepPreviousData,
    staleTime: Infinity,
  });
  const layout = useMemo(() => {
    if (!indicators.data || specs.length === 0) return { overlays: [], panes: [] };
    return indicatorLayout(indicators.data.timeSeconds, indicators.data.indicators, candles.map((c) => c.close));
  }, [indicators.data, specs, candles]);

  const lastClose = live.close ?? last?.close;
  const chartLabel = `${symbol} ${timeframe} candlestick chart, ${candles.length} bars${last ? `, last close ${formatPrice(last.close, decimals)}` : ""}`;

  return (
    <div className="page market-page">
      <PageHeader title="Market" lead="Prices, indicators, predicted ranges and the current signal, live." />
      <form className="filters market-controls" aria-label="Chart settings" onSubmit={(e) => e.preventDefault()}>
        <SelectField
          label="Symbol"
          name="symbol"
          value={symbol}
          onChange={(v) => setSearch({ symbol: v, tf: timeframe })}
          options={list.map((s) => ({ value: s.info?.symbol ?? "", label: `${s.info?.symbol ?? ""}${s.info?.name ? ` — ${s.info.name}` : ""}` }))}
        />
        <fieldset className="segmented" data-testid="timeframes">
          <legend>Timeframe</legend>
          {frames.map((tf) => (
            <label key={tf} className={tf === timeframe ? "selected" : undefined}>
              <input type="radio" name="timeframe" value={tf} checked={tf === timeframe} onChange={() => setSearch({ tf })} />
              {tf}
            </label>
          ))}
        </fieldset>
        <div className="field field-check">
          <label>
            <input
              type="checkbox"
              checked={following && liveCapable}
              disabled={!liveCapable}
              onChange={(e) => setFollowing(e.target.checked)}
              className="field-check-input"
              data-testid="follow-live"
            />{" "}
            Follow the live stream
          </label>
          {!liveCapable && <p className="field-hint">Live predictions come on 5m, 15m and 1h.</p>}
        </div>
      </form>
      <QueryStatus query={symbols} testId="symbols-error" />
      {symbols.data && list.length === 0 && <Alert tone="info">No market data is stored yet. An admin can import bars.</Alert>}

      <section className="card chart-card" aria-labelledby="chart-title">
        <div className="card-header">
          <h2 id="chart-title">
            {symbol || "–"} · {timeframe}
            {lastClose !== undefined && <span className="muted"> · {formatPrice(lastClose, decimals)}</span>}
          </h2>
          <p className={`stream-state stream-${stream.kind}`} role="status" data-testid="stream-state" data-state={stream.kind}>
            <span className="stream-dot" aria-hidden="true" /> {streamStateLabel(stream)}
          </p>
        </div>
        {stream.kind === "needs-plan" && <UpgradePrompt feature="The live stream" needed={stream.needed} testId="stream-upgrade" />}
        <QueryStatus query={history} testId="history-error" loading="Loading bars…" />
        <PriceChart
          candles={candles}
          overlays={layout.overlays}
          panes={layout.panes}
          bands={bands}
          priceLines={priceLines}
          decimals={decimals}
          onNearStart={() => void loadOlder()}
          label={chartLabel}
        />
        <div className="chart-footer">
          <p className="muted" data-testid="bar-count">
            {candles.length} bars
            {candles[0] && ` from ${formatMarketTime(new Date(candles[0].time * 1000))}`}
            {last && ` to ${formatMarketTime(new Date(last.time * 1000))}`}
            {live.barTime && ` · live bar ${formatMarketTime(live.barTime)}`}
          </p>
          <Button variant="secondary" onClick={() => void loadOlder()} disabled={!pageToken} busy={olderBusy} data-testid="load-older">
            {pageToken ? "Load older bars" : "No older bars"}
          </Button>
        </div>
        <ChartCredit />
        {olderError && <Alert>{olderError}</Alert>}
        {indicators.isError && <Alert>{errorText(indicators.error)}</Alert>}
      </section>

      <div className="cards market-cards">
        <Card title="Signal" id="signal-card">
          {!liveCapable && <p className="muted">Signals are computed on 5m, 15m and 1h bars.</p>}
          {liveCapable && !live.signal && signalNeeds && (
            <UpgradePrompt feature={`Signals on ${timeframe} bars`} needed={signalNeeds} testId="signal-upgrade" />
          )}
          {liveCapable && !live.signal && !signalNeeds && <QueryStatus query={signalQuery} testId="signal-error" />}
          {signal && <SignalDetails signal={signal} decimals={decimals} />}
          {signal && (
            <Suspense fallback={null}>
              <TradeSignalButton symbol={symbol} signal={signal} predictions={predictions} />
            </Suspense>
          )}
        </Card>

        <Card title="Paper order" id="order-ticket-card">
          <Suspense fallback={null}>
            <MarketOrderTicket symbol={symbol} />
          </Suspense>
        </Card>

        <Card title="Predicted ranges" id="predictions-card">
          <QueryStatus query={predict} testId="predict-error" />
          {predict.data?.needed && (
            <UpgradePrompt feature="Every horizon beyond intraday" needed={predict.data.needed} testId="horizons-upgrade" />
          )}
          {predictions.length > 0 && (
            <div className="table-scroll" role="region" aria-label="Predicted ranges" tabIndex={0}>
              <table className="table" data-testid="predictions-table">
                <caption className="visually-hidden">
                  Median high and low of each horizon, and the calibrated range with its nominal, held-out and live coverage
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Horizon</th>
                    <th scope="col" className="num">Median high</th>
                    <th scope="col" className="num">Median low</th>
                    <th scope="col" className="num">Range (nominal coverage)</th>
                    <th scope="col" className="num">Long TP first</th>
                    <th scope="col">On chart</th>
                  </tr>
                </thead>
                <tbody>
                  {predictions.map((p) => (
                    <tr key={p.horizon} data-testid="prediction-row">
                      <th scope="row">
                        {p.horizon}
                        <span className="muted"> · {p.lookaheadBars} × {p.timeframe}</span>
                        <br />
                        <span className="muted small">as of {formatMarketTime(timestampDate(p.asOf))}{p.rangeSource === "baseline" ? " · baseline" : ""}</span>
                      </th>
                      <td className="num">
                        {formatPrice(p.predictedHigh, decimals)}
                        <br />
                        <span className="muted small">{formatSignedPct(p.predictedHighPct)}</span>
                      </td>
                      <td className="num">
                        {formatPrice(p.predictedLow, decimals)}
                        <br />
                        <span className="muted small">{formatSignedPct(p.predictedLowPct)}</span>
                      </td>
                      <td className="num" data-testid="prediction-interval">
                        {p.interval ? (
                          <>
                            {formatPrice(p.interval.low, decimals)}–{formatPrice(p.interval.high, decimals)}
                            <br />
                            <span className="muted small">
                              {formatPercent(p.interval.nominalCoverage, 0)} range · held out {formatPercent(p.interval.heldoutCoverage, 0)}
                              {" · live "}
                              {liveCoverage.has(p.horizon)
                                ? `${formatPercent(liveCoverage.get(p.horizon)!.coverage, 0)} of ${liveCoverage.get(p.horizon)!.realized}`
                                : "not scored yet"}
                              {p.interval.liveScores > 0 ? ` · adapted to ${p.interval.liveScores} live scores` : ""}
                            </span>
                          </>
                        ) : (
                          <span className="muted small">not calibrated</span>
                        )}
                      </td>
                      <td className="num">{formatPercent(p.tpProbability, 0)}</td>
                      <td>
                        <label>
                          <input
                            type="checkbox"
                            checked={!hiddenBands.includes(p.horizon)}
                            onChange={(e) =>
                              setHiddenBands((h) => (e.target.checked ? h.filter((x) => x !== p.horizon) : [...h, p.horizon]))
                            }
                          />
                          <span className="visually-hidden"> Show the {p.horizon} band</span>
                        </label>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {predict.data && predict.data.response.skipped.length > 0 && (
            <ul className="muted small">
              {predict.data.response.skipped.map((s) => (
                <li key={s}>{s}</li>
              ))}
            </ul>
          )}
          {signal && <p className="visually-hidden">Current signal {actionName(signal.action)}</p>}
        </Card>

        <Card title="Indicators" id="indicators-card">
          <QueryStatus query={catalogue} />
          {catalogue.data && <IndicatorPicker catalogue={catalogue.data.indicators} chosen={specs} onChange={setSpecs} />}
        </Card>
      </div>
    </div>
  );
}
