/** The attribution lightweight-charts' licence asks for (its logo is off: it adds an inline style). */
export function ChartCredit() {
  return (
    <p className="muted small chart-credit">
      Charts by{" "}
      <a href="https://www.tradingview.com/lightweight-charts/" rel="noopener noreferrer" target="_blank">
        TradingView Lightweight Charts™
      </a>
    </p>
  );
}
