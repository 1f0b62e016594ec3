/**
 * A candlestick chart (lightweight-charts) with indicator overlays and panes, predicted-range
 * bands, price lines and markers. The props are plain data (chartData.ts); this component only
 * keeps the imperative chart in step with them. No inline styles: the library sizes its canvases
 * through the CSSOM, which the Content-Security-Policy allows.
 */
import {
  CandlestickSeries,
  createChart,
  createSeriesMarkers,
  type IChartApi,
  type IPriceLine,
  type ISeriesApi,
  type ISeriesMarkersPluginApi,
  LineSeries,
  LineStyle,
  type SeriesMarker,
  type Time,
  type WhitespaceData,
  type LineData,
  type CandlestickData,
} from "lightweight-charts";
import { useEffect, useRef } from "react";
import type { Band, Candle, LinePoint } from "./chartData";
import { baseChartOptions, type ChartTheme, readChartTheme, useChartTheme } from "./chartTheme";

export interface ChartLine {
  key: string;
  label: string;
  points: LinePoint[];
}

export interface ChartPane {
  key: string;
  lines: ChartLine[];
}

export interface ChartPriceLine {
  key: string;
  price: number;
  title: string;
  tone: "entry" | "up" | "down";
}

export interface ChartMarker {
  time: number;
  position: "aboveBar" | "belowBar";
  shape: "arrowUp" | "arrowDown" | "circle";
  tone: "up" | "down" | "neutral";
  text: string;
}

export interface PriceChartProps {
  candles: Candle[];
  overlays?: ChartLine[];
  panes?: ChartPane[];
  bands?: Band[];
  priceLines?: ChartPriceLine[];
  markers?: ChartMarker[];
  /** Decimals of the price axis. */
  decimals?: number;
  /** Called when the user scrolls near the oldest loaded bar. */
  onNearStart?: () => void;
  /** What the chart shows, for assistive technology. */
  label: string;
  testId?: string;
}

/** Bars in view after a fresh load (the rest is a scroll away). */
const INITIAL_BARS = 150;

function chartOptions(theme: ChartTheme) {
  const options = baseChartOptions(theme);
  return { ...options, timeScale: { ...options.timeScale, secondsVisible: false } };
}

function candleOptions(theme: ChartTheme, decimals: number) {
  return {
    upColor: theme.up,
    downColor: theme.down,
    wickUpColor: theme.up,
    wickDownColor: theme.down,
    borderVisible: false,
    priceFormat: { type: "price" as const, precision: decimals, minMove: 10 ** -decimals },
  };
}

const asTime = (t: number) => t as Time;

function toneColor(theme: ChartTheme, tone: "entry" | "up" | "down" | "neutral"): string {
  if (tone === "up") return theme.up;
  if (tone === "down") return theme.down;
  return theme.entry;
}

export function PriceChart({
  candles,
  overlays = [],
  panes = [],
  bands = [],
  priceLines = [],
  markers = [],
  decimals = 2,
  onNearStart,
  label,
  testId = "price-chart",
}: PriceChartProps) {
  const theme = useChartTheme();
  const containerRef = useRef<HTMLDivElement>(null);
  const chartRef = useRef<IChartApi | null>(null);
  const candleRef = useRef<ISeriesApi<"Candlestick"> | null>(null);
  const markersRef = useRef<ISeriesMarkersPluginApi<Time> | null>(null);
  const shownRef = useRef<Candle[]>([]);
  const extraRef = useRef<ISeriesApi<"Line">[]>([]);
  const linesRef = useRef<IPriceLine[]>([]);
  /** Until when range changes are the chart's own doing (a new data set), not the user's scroll. */
  const quietUntil = useRef(0);
  const nearStartRef = useRef(onNearStart);
  nearStartRef.current = onNearStart;

  // The chart itself, once.
  useEffect(() => {
    const container = containerRef.current;
    if (!container) return;
    const initial = readChartTheme();
    const chart = createChart(container, { autoSize: true, ...chartOptions(initial) });
    const series = chart.addSeries(CandlestickSeries, candleOptions(initial, 2));
    chartRef.current = chart;
    candleRef.current = series;
    markersRef.current = createSeriesMarkers(series, []);
    const onRange = (range: { from: number; to: number } | null) => {
      if (performance.now() < quietUntil.current) return;
      if (range && range.from < 10 && shownRef.current.length > 0) nearStartRef.current?.();
    };
    chart.timeScale().subscribeVisibleLogicalRangeChange(onRange);
    return () => {
      chart.timeScale().unsubscribeVisibleLogicalRangeChange(onRange);
      chart.remove();
      chartRef.current = null;
      candleRef.current = null;
      markersRef.current = null;
      shownRef.current = [];
      extraRef.current = [];
      linesRef.current = [];
    };
  }, []);

  // Theme and price precision.
  useEffect(() => {
    chartRef.current?.applyOptions(chartOptions(theme));
    candleRef.current?.applyOptions(candleOptions(theme, decimals));
  }, [theme, decimals]);

  // Candles: a live bar is an update, anything else a fresh set.
  useEffect(() => {
    const series = candleRef.current;
    const chart = chartRef.current;
    if (!series || !chart) return;
    const before = shownRef.current;
    const extends_ =
      before.length > 0 &&
      candles.length >= before.length &&
      candles.length - before.length <= 2 &&
      candles[0].time === before[0].time &&
      candles[before.length - 1].time === before[before.length - 1].time;
    const data = (c: Candle): CandlestickData<Time> => ({ time: asTime(c.time), open: c.open, high: c.high, low: c.low, close: c.close });
    if (extends_) {
      for (let i = before.length - 1; i < candles.length; i++) series.update(data(candles[i]));
    } else {
      const prepended = before.length > 0 && candles.length > before.length && candles[candles.length - 1].time === before[before.length - 1].time;
      const range = chart.timeScale().getVisibleLogicalRange();
      quietUntil.current = performance.now() + 500;
      series.setData(candles.map(data));
      if (prepended && range) {
        const added = candles.length - before.length;
        chart.timeScale().setVisibleLogicalRange({ from: range.from + added, to: range.to + added });
      } else if (candles.length > 0) {
        chart.timeScale().setVisibleLogicalRange({ from: Math.max(0, candles.length - INITIAL_BARS), to: candles.length + 20 });
      }
    }
    shownRef.current = candles;
    const el = containerRef.current;
    const last = candles[candles.length - 1];
    if (el) {
      el.dataset.bars = String(candles.length);
      el.dataset.lastTime = last ? String(last.time) : "";
      el.dataset.firstTime = candles[0] ? String(candles[0].time) : "";
    }
  }, [candles]);

  // Indicator lines and bands: rebuilt whenever they change.
  useEffect(() => {
    const chart = chartRef.current;
    if (!chart) return;
    quietUntil.current = performance.now() + 500;
    for (const s of extraRef.current) chart.removeSeries(s);
    extraRef.current = [];
    while (chart.panes().length > 1) chart.removePane(chart.panes().length - 1);
    let colour = 0;
    const next = () => theme.series[colour++ % theme.series.length];
    const addLine = (line: ChartLine, pane: number, dashed = false, color = next()) => {
      const s = chart.addSeries(
        LineSeries,
        {
          color,
          lineWidth: dashed ? 1 : 2,
          lineStyle: dashed ? LineStyle.Dashed : LineStyle.Solid,
          title: line.label,
          priceLineVisible: false,
          lastValueVisible: !dashed,
          crosshairMarkerVisible: !dashed,
        },
        pane,
      );
      s.setData(line.points.map((p) => ({ ...p, time: asTime(p.time) }) as LineData<Time> | WhitespaceData<Time>));
      extraRef.current.push(s);
    };
    for (const line of overlays) addLine(line, 0);
    bands.forEach((band) => {
      const color = next();
      addLine({ key: `${band.horizon}-high`, label: `${band.horizon} high`, points: band.high }, 0, true, color);
      addLine({ key: `${band.horizon}-low`, label: `${band.horizon} low`, points: band.low }, 0, true, color);
    });
    panes.forEach((pane, i) => {
      for (const line of pane.lines) addLine(line, i + 1);
    });
    const all = chart.panes();
    if (all.length > 1) {
      all[0].setStretchFactor(3);
      for (let i = 1; i < all.length; i++) all[i].setStretchFactor(1);
    }
    if (containerRef.current) containerRef.current.dataset.bands = String(bands.length);
  }, [overlays, panes, bands, theme]);

  // Price lines (entry, take-profit, stop-loss).
  useEffect(() => {
    const series = candleRef.current;
    if (!series) return;
    for (const l of linesRef.current) series.removePriceLine(l);
    linesRef.current = priceLines
      .filter((l) => l.price > 0)
      .map((l) =>
        series.createPriceLine({
          price: l.price,
          color: toneColor(theme, l.tone),
          lineWidth: 1,
          lineStyle: l.tone === "entry" ? LineStyle.Dotted : LineStyle.Dashed,
          axisLabelVisible: true,
          title: l.title,
        }),
      );
  }, [priceLines, theme]);

  useEffect(() => {
    const m: SeriesMarker<Time>[] = markers.map((x) => ({
      time: asTime(x.time),
      position: x.position,
      shape: x.shape,
      color: toneColor(theme, x.tone),
      text: x.text,
    }));
    markersRef.current?.setMarkers(m);
  }, [markers, theme]);

  return <div ref={containerRef} className="price-chart" role="img" aria-label={label} data-testid={testId} />;
}
