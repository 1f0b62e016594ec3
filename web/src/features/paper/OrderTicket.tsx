import { OrderSide, OrderType, TimeInForce } from "@gen/trading/paper/v1/paper_trading_service_pb";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useRef, useState } from "react";
import { toApiError } from "../../api/errors";
import { Alert } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { SelectField, TextField } from "../../ui/Field";
import { toast } from "../../ui/toast";
import { type FormErrors, type OrderFormValues, type OrderRequestInit, readOrderForm, SubmitGuard } from "./orderForm";
import { paperClient } from "./paperClient";

const FIELDS: Record<string, [string, string]> = {
  symbol: ["symbol", "Symbol"],
  quantity: ["quantity", "Quantity"],
  limit_price: ["limit", "Limit price"],
  stop_price: ["stop", "Stop price"],
  "bracket.take_profit_price": ["takeProfit", "Take-profit"],
  "bracket.stop_loss_price": ["stopLoss", "Stop-loss"],
};

/** An order ticket: market, limit, stop, stop-limit; day or GTC; an optional bracket. */
export function OrderTicket({ portfolioId, symbol: initialSymbol = "" }: { portfolioId: string; symbol?: string }) {
  const queryClient = useQueryClient();
  const [values, setValues] = useState<OrderFormValues>(() => ({
    symbol: initialSymbol,
    side: String(OrderSide.BUY),
    type: String(OrderType.MARKET),
    tif: String(TimeInForce.GTC),
    quantity: "1",
    limit: "",
    stop: "",
    takeProfit: "",
    stopLoss: "",
  }));
  const [formErrors, setFormErrors] = useState<FormErrors>({});
  // One idempotency key per order: a repeat after a timeout sends the same one; a double click none.
  const guard = useRef<SubmitGuard | null>(null);
  guard.current ??= new SubmitGuard();
  const set = (name: keyof OrderFormValues) => (value: string) => {
    guard.current!.renew();
    setValues((v) => ({ ...v, [name]: value }));
  };
  const place = useMutation({
    mutationFn: (request: OrderRequestInit & { idempotencyKey: string }) => paperClient.placeOrder({ portfolioId, ...request }),
    onSuccess: () => {
      guard.current!.end(true);
      toast("Order placed: it fills on the next bar that reaches it.");
      void queryClient.invalidateQueries({ queryKey: ["paper"] });
    },
    onError: () => guard.current!.end(false),
  });
  const submit = () => {
    const read = readOrderForm(values);
    if ("errors" in read) {
      setFormErrors(read.errors);
      return;
    }
    setFormErrors({});
    if (!guard.current!.begin()) return;
    place.mutate({ ...read.request, idempotencyKey: guard.current!.key });
  };
  const apiError = place.error ? toApiError(place.error, { fields: FIELDS }) : null;
  const fieldError = (name: string) => formErrors[name] ?? apiError?.fieldErrors[name];
  const { symbol, side, type, tif, quantity, limit, stop, takeProfit, stopLoss } = values;
  const kind = Number(type);
  return (
    <form
      className="form-grid order-ticket"
      data-testid="order-ticket"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      {apiError && Object.keys(formErrors).length === 0 && <Alert>{apiError.message}</Alert>}
      <TextField label="Symbol" name="symbol" value={symbol} onChange={set("symbol")} required error={fieldError("symbol")} />
      <SelectField label="Side" name="side" value={side} onChange={set("side")} options={[{ value: String(OrderSide.BUY), label: "Buy" }, { value: String(OrderSide.SELL), label: "Sell" }]} />
      <SelectField
        label="Type"
        name="type"
        value={type}
        onChange={set("type")}
        options={[
          { value: String(OrderType.MARKET), label: "Market" },
          { value: String(OrderType.LIMIT), label: "Limit" },
          { value: String(OrderType.STOP), label: "Stop" },
          { value: String(OrderType.STOP_LIMIT), label: "Stop-limit" },
        ]}
      />
      <SelectField label="Time in force" name="tif" value={tif} onChange={set("tif")} options={[{ value: String(TimeInForce.GTC), label: "GTC" }, { value: String(TimeInForce.DAY), label: "Day" }]} />
      <TextField label="Quantity" name="quantity" inputMode="numeric" value={quantity} onChange={set("quantity")} required error={fieldError("quantity")} />
      {(kind === OrderType.LIMIT || kind === OrderType.STOP_LIMIT) && (
        <TextField label="Limit price" name="limit" inputMode="decimal" value={limit} onChange={set("limit")} required error={fieldError("limit")} />
      )}
      {(kind === OrderType.STOP || kind === OrderType.STOP_LIMIT) && (
        <TextField label="Stop price" name="stop" inputMode="decimal" value={stop} onChange={set("stop")} required error={fieldError("stop")} />
      )}
      <TextField label="Take-profit" name="takeProfit" inputMode="decimal" value={takeProfit} onChange={set("takeProfit")} error={fieldError("takeProfit")} />
      <TextField label="Stop-loss" name="stopLoss" inputMode="decimal" value={stopLoss} onChange={set("stopLoss")} error={fieldError("stopLoss")} />
      <div className="page-actions">
        <Button type="submit" busy={place.isPending} data-testid="place-order">
          Place paper order
        </Button>
      </div>
    </form>
  );
}
