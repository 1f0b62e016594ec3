import { OrderSide, OrderType, TimeInForce } from "@gen/trading/paper/v1/paper_trading_service_pb";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { toApiError } from "../../api/errors";
import { Alert } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { SelectField, TextField } from "../../ui/Field";
import { toast } from "../../ui/toast";
import { paperClient } from "./paperClient";

const FIELDS: Record<string, [string, string]> = {
  symbol: ["symbol", "Symbol"],
  quantity: ["quantity", "Quantity"],
  limit_price: ["limit", "Limit price"],
  stop_price: ["stop", "Stop price"],
  "bracket.take_profit_price": ["takeProfit", "Take-profit"],
  "bracket.stop_loss_price": ["stopLoss", "Stop-loss"],
};

const num = (text: string): number => (text.trim() ? Number(text) : 0);

/** An order ticket: market, limit, stop, stop-limit; day or GTC; an optional bracket. */
export function OrderTicket({ portfolioId, symbol: initialSymbol = "" }: { portfolioId: string; symbol?: string }) {
  const queryClient = useQueryClient();
  const [symbol, setSymbol] = useState(initialSymbol);
  const [side, setSide] = useState(String(OrderSide.BUY));
  const [type, setType] = useState(String(OrderType.MARKET));
  const [tif, setTif] = useState(String(TimeInForce.GTC));
  const [quantity, setQuantity] = useState("1");
  const [limit, setLimit] = useState("");
  const [stop, setStop] = useState("");
  const [takeProfit, setTakeProfit] = useState("");
  const [stopLoss, setStopLoss] = useState("");
  const place = useMutation({
    mutationFn: () =>
      paperClient.placeOrder({
        portfolioId,
        symbol,
        side: Number(side),
        type: Number(type),
        timeInForce: Number(tif),
        quantity: BigInt(Math.trunc(num(quantity))),
        limitPrice: num(limit),
        stopPrice: num(stop),
        bracket: takeProfit || stopLoss ? { takeProfitPrice: num(takeProfit), stopLossPrice: num(stopLoss) } : undefined,
        idempotencyKey: crypto.randomUUID(),
      }),
    onSuccess: () => {
      toast("Order placed: it fills on the next bar that reaches it.");
      void queryClient.invalidateQueries({ queryKey: ["paper"] });
    },
  });
  const error = place.error ? toApiError(place.error, { fields: FIELDS }) : null;
  const kind = Number(type);
  return (
    <form
      className="form-grid order-ticket"
      data-testid="order-ticket"
      onSubmit={(e) => {
        e.preventDefault();
        place.mutate();
      }}
    >
      {error && <Alert>{error.message}</Alert>}
      <TextField label="Symbol" name="symbol" value={symbol} onChange={setSymbol} required error={error?.fieldErrors.symbol} />
      <SelectField label="Side" name="side" value={side} onChange={setSide} options={[{ value: String(OrderSide.BUY), label: "Buy" }, { value: String(OrderSide.SELL), label: "Sell" }]} />
      <SelectField
        label="Type"
        name="type"
        value={type}
        onChange={setType}
        options={[
          { value: String(OrderType.MARKET), label: "Market" },
          { value: String(OrderType.LIMIT), label: "Limit" },
          { value: String(OrderType.STOP), label: "Stop" },
          { value: String(OrderType.STOP_LIMIT), label: "Stop-limit" },
        ]}
      />
      <SelectField label="Time in force" name="tif" value={tif} onChange={setTif} options={[{ value: String(TimeInForce.GTC), label: "GTC" }, { value: String(TimeInForce.DAY), label: "Day" }]} />
      <TextField label="Quantity" name="quantity" inputMode="numeric" value={quantity} onChange={setQuantity} required error={error?.fieldErrors.quantity} />
      {(kind === OrderType.LIMIT || kind === OrderType.STOP_LIMIT) && (
        <TextField label="Limit price" name="limit" inputMode="decimal" value={limit} onChange={setLimit} required error={error?.fieldErrors.limit} />
      )}
      {(kind === OrderType.STOP || kind === OrderType.STOP_LIMIT) && (
        <TextField label="Stop price" name="stop" inputMode="decimal" value={stop} onChange={setStop} required error={error?.fieldErrors.stop} />
      )}
      <TextField label="Take-profit" name="takeProfit" inputMode="decimal" value={takeProfit} onChange={setTakeProfit} error={error?.fieldErrors.takeProfit} />
      <TextField label="Stop-loss" name="stopLoss" inputMode="decimal" value={stopLoss} onChange={setStopLoss} error={error?.fieldErrors.stopLoss} />
      <div className="page-actions">
        <Button type="submit" busy={place.isPending} data-testid="place-order">
          Place paper order
        </Button>
      </div>
    </form>
  );
}
