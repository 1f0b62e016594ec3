import type { HorizonPrediction, Signal } from "@gen/trading/ml/v1/prediction_pb";
import { SignalAction } from "@gen/trading/ml/v1/prediction_pb";
import { OrderSide } from "@gen/trading/paper/v1/paper_trading_service_pb";
import { useMutation } from "@tanstack/react-query";
import { Link } from "@tanstack/react-router";
import { useRef } from "react";
import { toApiError } from "../../api/errors";
import { Alert } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { SubmitGuard } from "./orderForm";
import { paperClient } from "./paperClient";

const RISK_PERCENT = 1;

/** One click from a BUY or SELL signal to a bracket order in the first paper portfolio (opened with
 * $100,000 of virtual cash if there is none), sized so that the stop loses 1% of equity. */
export function TradeSignalButton({ symbol, signal, predictions }: { symbol: string; signal: Signal; predictions: HorizonPrediction[] }) {
  // One send at a time (no second portfolio, no second order from a double click) and one
  // idempotency key per signal until it is placed: a repeat after a timeout is the same order.
  const guard = useRef<SubmitGuard | null>(null);
  guard.current ??= new SubmitGuard();
  const signalId = `${symbol}:${signal.horizon}:${signal.asOf?.seconds ?? 0n}:${signal.action}`;
  const lastSignal = useRef(signalId);
  if (lastSignal.current !== signalId) {
    lastSignal.current = signalId;
    guard.current.renew();
  }
  const trade = useMutation({
    onSuccess: () => guard.current!.end(true),
    onError: () => guard.current!.end(false),
    mutationFn: async (idempotencyKey: string) => {
      const listed = await paperClient.listPortfolios({});
      const portfolioId =
        listed.portfolios[0]?.portfolioId ??
        (await paperClient.createPortfolio({ name: "Paper portfolio", currency: "USD", initialCashMinor: 10_000_000n })).portfolio?.portfolioId ??
        "";
      const prediction = predictions.find((p) => p.horizon === signal.horizon) ?? predictions[0];
      return paperClient.tradeSignal({
        portfolioId,
        symbol,
        side: signal.action === SignalAction.BUY ? OrderSide.BUY : OrderSide.SELL,
        entry: signal.entry,
        takeProfit: signal.takeProfit,
        stopLoss: signal.stopLoss,
        riskPercent: RISK_PERCENT,
        predictionId: prediction?.predictionId || `signal:${symbol}:${signal.asOf?.seconds ?? 0n}`,
        idempotencyKey,
        models: signal.models.map((m) => ({ name: m.name, version: m.version })),
      });
    },
  });
  if (signal.action !== SignalAction.BUY && signal.action !== SignalAction.SELL) return null;
  return (
    <div className="trade-signal">
      <Button busy={trade.isPending} onClick={() => {
          if (guard.current!.begin()) trade.mutate(guard.current!.key);
        }} data-testid="trade-signal">
        Paper trade this signal ({RISK_PERCENT}% risk)
      </Button>
      {trade.isSuccess && (
        <p data-testid="trade-signal-done">
          Bracket order placed for {trade.data.order?.quantity.toString()} {symbol}. <Link to="/portfolio">See the portfolio</Link>
        </p>
      )}
      {trade.error && <Alert>{toApiError(trade.error).message}</Alert>}
    </div>
  );
}
