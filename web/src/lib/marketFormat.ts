/** Numbers of the market pages as people read them (pure, unit tested). */

/** Decimals that show a price to its tick: 0.00001 -> 5; without a tick, by magnitude. */
export function priceDecimals(tickSize: number | undefined, sample?: number): number {
  if (tickSize && tickSize > 0 && Number.isFinite(tickSize)) {
    const d = Math.ceil(-Math.log10(tickSize) - 1e-9);
    return Math.min(8, Math.max(0, d));
  }
  const v = Math.abs(sample ?? 0);
  if (v === 0 || !Number.isFinite(v)) return 2;
  if (v < 10) return 5;
  if (v < 1000) return 3;
  return 2;
}

export function formatPrice(value: number | undefined, decimals = 2): string {
  if (value === undefined || !Number.isFinite(value) || value === 0) return "–";
  return value.toFixed(decimals);
}

/** A fraction as a percentage: 0.1234 -> "12.34 %". */
export function formatPercent(fraction: number | undefined, digits = 2): string {
  if (fraction === undefined || !Number.isFinite(fraction)) return "–";
  return `${(fraction * 100).toFixed(digits)} %`;
}

/** A percentage already in percent, with its sign: 0.42 -> "+0.42 %", -1.5 -> "−1.50 %". */
export function formatSignedPct(percent: number | undefined, digits = 2): string {
  if (percent === undefined || !Number.isFinite(percent)) return "–";
  const sign = percent > 0 ? "+" : percent < 0 ? "−" : "";
  return `${sign}${Math.abs(percent).toFixed(digits)} %`;
}

/** A plain ratio (Sharpe, risk/reward, profit factor): "1.85"; infinity as "∞". */
export function formatRatio(value: number | undefined, digits = 2): string {
  if (value === undefined || Number.isNaN(value)) return "–";
  if (!Number.isFinite(value)) return value > 0 ? "∞" : "−∞";
  return value.toFixed(digits);
}

/** Money: 10234.5 -> "10,234.50". */
export function formatMoney(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return "–";
  return value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

/**
 * The wait before reconnecting a dropped stream: exponential from `baseMs`, capped at `maxMs`,
 * with up to a fifth of jitter below so that many tabs do not come back at once.
 */
export function backoffDelay(attempt: number, baseMs = 1000, maxMs = 30_000, random: () => number = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(exp * (1 - 0.2 * random()));
}

/**
 * A market time as the charts' time axis shows it: in UTC (lightweight-charts draws UTC), with
 * the zone said, so the text under a chart and its axis agree: "2024-03-05 14:00 UTC".
 */
export function formatMarketTime(value: Date | undefined | null): string {
  if (!value || Number.isNaN(value.getTime())) return "–";
  const iso = value.toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}
