import { type Signal, SignalAction } from "@gen/trading/ml/v1/prediction_pb";
import { formatMarketTime, formatPercent, formatPrice, formatRatio, formatSignedPct } from "../../lib/marketFormat";
import { timestampDate } from "../../lib/time";
import type { ChartPriceLine } from "./PriceChart";

export function actionName(action: SignalAction): "BUY" | "SELL" | "HOLD" | "–" {
  switch (action) {
    case SignalAction.BUY:
      return "BUY";
    case SignalAction.SELL:
      return "SELL";
    case SignalAction.HOLD:
      return "HOLD";
    default:
      return "–";
  }
}

/** Entry, take-profit and stop-loss of a signal as price lines (HOLD has only its entry). */
export function signalPriceLines(signal: Signal | undefined): ChartPriceLine[] {
  if (!signal || signal.entry <= 0) return [];
  const lines: ChartPriceLine[] = [{ key: "entry", price: signal.entry, title: "Entry", tone: "entry" }];
  if (signal.takeProfit > 0) lines.push({ key: "tp", price: signal.takeProfit, title: "TP", tone: "up" });
  if (signal.stopLoss > 0) lines.push({ key: "sl", price: signal.stopLoss, title: "SL", tone: "down" });
  return lines;
}

/** The explanation as horizontal bars, positive to the right (favours the long). SVG attributes only. */
function Contributions({ signal }: { signal: Signal }) {
  const items = signal.explanation.slice(0, 8);
  if (items.length === 0) return null;
  const max = Math.max(...items.map((c) => Math.abs(c.contribution)), 1e-9);
  const row = 22;
  const width = 300;
  const mid = width / 2;
  return (
    <figure className="contributions">
      <figcaption>What pushed the decision (contribution to the long's odds)</figcaption>
      <svg viewBox={`0 0 ${width} ${items.length * row}`} role="img" aria-label="Feature contributions" className="contrib-svg">
        <line x1={mid} x2={mid} y1={0} y2={items.length * row} className="contrib-axis" />
        {items.map((c, i) => {
          const w = (Math.abs(c.contribution) / max) * (mid - 4);
          const x = c.contribution >= 0 ? mid : mid - w;
          return (
            <rect key={c.feature} x={x} y={i * row + 4} width={Math.max(w, 1)} height={row - 8} className={c.contribution >= 0 ? "contrib-pos" : "contrib-neg"} />
          );
        })}
      </svg>
      <div className="table-scroll" role="region" aria-label="Feature contributions" tabIndex={0}>
      <table className="table contrib-table">
        <caption className="visually-hidden">Feature contributions</caption>
        <thead>
          <tr>
            <th scope="col">Feature</th>
            <th scope="col" className="num">
              Value
            </th>
            <th scope="col" className="num">
              Contribution
            </th>
          </tr>
        </thead>
        <tbody>
          {items.map((c) => (
            <tr key={c.feature}>
              <th scope="row">{c.feature}</th>
              <td className="num">{formatRatio(c.value, 4)}</td>
              <td className="num">{formatRatio(c.contribution, 3)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      </div>
    </figure>
  );
}

export function SignalDetails({ signal, decimals }: { signal: Signal; decimals: number }) {
  const action = actionName(signal.action);
  return (
    <div className="signal" data-testid="signal">
      <p className="signal-head">
        <span className={`badge signal-${action.toLowerCase()}`} data-testid="signal-action">
          {action}
        </span>
        <span className="muted">
          {" "}
          {signal.horizon} · {signal.timeframe} · as of {formatMarketTime(timestampDate(signal.asOf))}
        </span>
      </p>
      <dl className="facts signal-facts">
        <div>
          <dt>Entry</dt>
          <dd data-testid="signal-entry">{formatPrice(signal.entry, decimals)}</dd>
        </div>
        <div>
          <dt>Take-profit</dt>
          <dd>{formatPrice(signal.takeProfit, decimals)}</dd>
        </div>
        <div>
          <dt>Stop-loss</dt>
          <dd>{formatPrice(signal.stopLoss, decimals)}</dd>
        </div>
        <div>
          <dt>Confidence</dt>
          <dd data-testid="signal-confidence">{formatPercent(signal.confidence, 1)}</dd>
        </div>
        <div>
          <dt>Risk/reward</dt>
          <dd>{signal.riskReward > 0 ? formatRatio(signal.riskReward) : "–"}</dd>
        </div>
        <div>
          <dt>Expected value after costs</dt>
          <dd data-testid="signal-expected-value">
            {formatSignedPct(signal.expectedValuePct, 3)}
            <span className="muted small"> (costs {formatSignedPct(-signal.costPct, 3)})</span>
          </dd>
        </div>
      </dl>
      {signal.summary && <p data-testid="signal-summary">{signal.summary}</p>}
      <Contributions signal={signal} />
    </div>
  );
}
