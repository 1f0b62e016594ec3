/**
 * The chart's colours from the design tokens (tokens.css), read when the chart is made and
 * again when the system switches between light and dark.
 */
import { ColorType } from "lightweight-charts";
import { useEffect, useState } from "react";

export interface ChartTheme {
  background: string;
  text: string;
  grid: string;
  border: string;
  up: string;
  down: string;
  /** One colour per indicator line / band, in order. */
  series: string[];
  entry: string;
}

function token(style: CSSStyleDeclaration, name: string, fallback: string): string {
  const v = style.getPropertyValue(name).trim();
  return v || fallback;
}

export function readChartTheme(): ChartTheme {
  const style = getComputedStyle(document.documentElement);
  return {
    background: token(style, "--color-surface", "#ffffff"),
    text: token(style, "--color-text", "#1b1f24"),
    grid: token(style, "--color-surface-2", "#eef1f4"),
    border: token(style, "--color-border", "#c9d1d9"),
    up: token(style, "--color-chart-up", "#1a7f37"),
    down: token(style, "--color-chart-down", "#b42318"),
    series: [1, 2, 3, 4, 5, 6].map((i) => token(style, `--color-chart-${i}`, "#0b5cad")),
    entry: token(style, "--color-muted", "#57606a"),
  };
}

/** The current chart theme, updated when the colour scheme changes. */
export function useChartTheme(): ChartTheme {
  const [theme, setTheme] = useState<ChartTheme>(() => readChartTheme());
  useEffect(() => {
    const media = window.matchMedia("(prefers-color-scheme: dark)");
    const update = () => setTheme(readChartTheme());
    media.addEventListener("change", update);
    return () => media.removeEventListener("change", update);
  }, []);
  return theme;
}

/** What every chart of the app shares: the theme's colours, no logo (its inline style breaks the
 * CSP; the credit is a link under each chart), the time on the time axis. */
export function baseChartOptions(theme: ChartTheme) {
  return {
    layout: {
      background: { type: ColorType.Solid, color: theme.background },
      textColor: theme.text,
      panes: { separatorColor: theme.border },
      attributionLogo: false,
    },
    grid: { vertLines: { color: theme.grid }, horzLines: { color: theme.grid } },
    rightPriceScale: { borderColor: theme.border },
    timeScale: { borderColor: theme.border, timeVisible: true },
  };
}
