/** The equity curve over its drawdown (a pane below, in percent), drawn with lightweight-charts. */
import { AreaSeries, createChart, type IChartApi, type ISeriesApi, LineSeries, type Time } from "lightweight-charts";
import { useEffect, useRef } from "react";
import { baseChartOptions, readChartTheme, useChartTheme } from "../market/chartTheme";
import type { CurvePoint } from "./backtestForm";


export function EquityChart({ equity, drawdown, label }: { equity: CurvePoint[]; drawdown: CurvePoint[]; label: string }) {
  const theme = useChartTheme();
  const ref = useRef<HTMLDivElement>(null);
  const chartRef = useRef<IChartApi | null>(null);
  const equityRef = useRef<ISeriesApi<"Line"> | null>(null);
  const drawdownRef = useRef<ISeriesApi<"Area"> | null>(null);

  useEffect(() => {
    if (!ref.current) return;
    // The options at creation: attributionLogo on (the default) would add an inline <style>.
    const chart = createChart(ref.current, { autoSize: true, ...baseChartOptions(readChartTheme()) });
    equityRef.current = chart.addSeries(LineSeries, { lineWidth: 2, title: "Equity", priceLineVisible: false });
    drawdownRef.current = chart.addSeries(
      AreaSeries,
      { title: "Drawdown", priceLineVisible: false, priceFormat: { type: "percent" as const } },
      1,
    );
    chart.panes()[0]?.setStretchFactor(2);
    chartRef.current = chart;
    return () => {
      chart.remove();
      chartRef.current = null;
    };
  }, []);

  useEffect(() => {
    chartRef.current?.applyOptions(baseChartOptions(theme));
    equityRef.current?.applyOptions({ color: theme.series[0] });
    drawdownRef.current?.applyOptions({ lineColor: theme.down, topColor: theme.down, bottomColor: theme.background });
  }, [theme]);

  useEffect(() => {
    equityRef.current?.setData(equity.map((p) => ({ time: p.time as Time, value: p.value })));
    drawdownRef.current?.setData(drawdown.map((p) => ({ time: p.time as Time, value: p.value * 100 })));
    chartRef.current?.timeScale().fitContent();
    if (ref.current) ref.current.dataset.points = String(equity.length);
  }, [equity, drawdown]);

  return <div ref={ref} className="price-chart price-chart-short" role="img" aria-label={label} data-testid="equity-chart" />;
}
