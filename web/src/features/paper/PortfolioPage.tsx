import { type Order, OrderStatus } from "@gen/trading/paper/v1/paper_trading_service_pb";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { toApiError } from "../../api/errors";
import { formatMarketTime, formatPercent, formatPrice, formatRatio } from "../../lib/marketFormat";
import { timestampDate } from "../../lib/time";
import { Alert, Loading } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { TextField } from "../../ui/Field";
import { Card, Fact, PageHeader } from "../../ui/page";
import { EquityChart } from "../backtests/EquityChart";
import { readCash } from "./orderForm";
import { OrderTicket } from "./OrderTicket";
import { QueryBody } from "./QueryBody";
import { QueryStatus } from "../market/QueryStatus";
import { paperClient } from "./paperClient";
import { SignalResults } from "./SignalResults";
import { equityCurves, money, ROLE_LABEL, SIDE_LABEL, STATUS_LABEL, TIF_LABEL, TYPE_LABEL } from "./paperFormat";

const POLL_MS = 2000; // fills arrive with the bar feed

function CreatePortfolio() {
  const queryClient = useQueryClient();
  const [name, setName] = useState("Paper portfolio");
  const [cash, setCash] = useState("100000");
  const [cashError, setCashError] = useState("");
  const create = useMutation({
    mutationFn: (initialCashMinor: bigint) => paperClient.createPortfolio({ name, currency: "USD", initialCashMinor }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["paper"] }),
  });
  const error = create.error ? toApiError(create.error, { fields: { name: ["name", "Name"], initial_cash_minor: ["cash", "Virtual cash"] } }) : null;
  const submit = () => {
    const minor = readCash(cash);
    setCashError(typeof minor === "string" ? minor : "");
    if (typeof minor === "string" || create.isPending) return;
    create.mutate(minor);
  };
  return (
    <Card title="Open a paper portfolio">
      <form
        className="form-grid"
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
      >
        {error && !cashError && <Alert>{error.message}</Alert>}
        <TextField label="Name" name="name" value={name} onChange={setName} required error={error?.fieldErrors.name} />
        <TextField label="Virtual cash (USD)" name="cash" inputMode="decimal" value={cash} onChange={setCash} required error={cashError || error?.fieldErrors.cash} />
        <div className="page-actions">
          <Button type="submit" busy={create.isPending} data-testid="create-portfolio">
            Open portfolio
          </Button>
        </div>
      </form>
    </Card>
  );
}

function OrdersTable({ orders, currencyDecimals }: { orders: Order[]; currencyDecimals: number }) {
  const queryClient = useQueryClient();
  const cancel = useMutation({
    mutationFn: (orderId: string) => paperClient.cancelOrder({ orderId }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["paper"] }),
  });
  return (
    <div className="table-scroll" role="region" aria-label="Orders" tabIndex={0}>
      {cancel.error && <Alert>{toApiError(cancel.error).message}</Alert>}
      <table className="table" data-testid="orders-table">
        <caption className="visually-hidden">Orders, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Symbol</th>
            <th scope="col">Side</th>
            <th scope="col">Type</th>
            <th scope="col">Role</th>
            <th scope="col" className="num">Qty</th>
            <th scope="col" className="num">Limit / stop</th>
            <th scope="col">TIF</th>
            <th scope="col">Status</th>
            <th scope="col" className="num">Fill</th>
            <th scope="col"><span className="visually-hidden">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {orders.map((o) => (
            <tr key={o.orderId} data-status={STATUS_LABEL[o.status]} data-role={ROLE_LABEL[o.role]}>
              <td>{o.symbol}</td>
              <td>{SIDE_LABEL[o.side]}</td>
              <td>{TYPE_LABEL[o.type]}</td>
              <td>{ROLE_LABEL[o.role]}</td>
              <td className="num">{o.quantity.toString()}</td>
              <td className="num">{o.limitPrice || o.stopPrice ? formatPrice(o.limitPrice || o.stopPrice, currencyDecimals) : "–"}</td>
              <td>{TIF_LABEL[o.timeInForce]}</td>
              <td title={o.reason}>{STATUS_LABEL[o.status]}</td>
              <td className="num">{o.fillPrice ? formatPrice(o.fillPrice, currencyDecimals) : "–"}</td>
              <td>
                {(o.status === OrderStatus.WORKING || o.status === OrderStatus.PENDING) && (
                  <Button variant="secondary" onClick={() => cancel.mutate(o.orderId)}>
                    Cancel
                  </Button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A paper portfolio: cash, equity, buying power and metrics, the equity chart, positions with P&L,
 * orders (cancel), fills, and the order ticket. Fills arrive with the bar feed, so it polls. */
export function PortfolioPage() {
  const portfolios = useQuery({ queryKey: ["paper", "portfolios"], queryFn: () => paperClient.listPortfolios({}) });
  const [chosen, setChosen] = useState("");
  const list = portfolios.data?.portfolios ?? [];
  const portfolioId = chosen || list[0]?.portfolioId || "";
  const enabled = Boolean(portfolioId);
  const view = useQuery({ queryKey: ["paper", "portfolio", portfolioId], queryFn: () => paperClient.getPortfolio({ portfolioId }), enabled, refetchInterval: POLL_MS });
  const orders = useQuery({ queryKey: ["paper", "orders", portfolioId], queryFn: () => paperClient.listOrders({ portfolioId }), enabled, refetchInterval: POLL_MS });
  const fills = useQuery({ queryKey: ["paper", "fills", portfolioId], queryFn: () => paperClient.listFills({ portfolioId }), enabled, refetchInterval: POLL_MS });
  const equity = useQuery({ queryKey: ["paper", "equity", portfolioId], queryFn: () => paperClient.getEquityHistory({ portfolioId }), enabled, refetchInterval: POLL_MS });
  const curves = useMemo(
    () => equityCurves((equity.data?.points ?? []).map((p) => ({ time: Number(p.time?.seconds ?? 0n), equityMinor: p.equityMinor }))),
    [equity.data],
  );
  const portfolio = view.data?.portfolio;
  const currency = portfolio?.currency ?? "USD";
  const metrics = view.data?.metrics;
  return (
    <div>
      <PageHeader title="Paper trading" lead="Virtual money, filled on the live bar feed by the backtester's own fill model." />
      {portfolios.isPending && <Loading />}
      {portfolios.isError && <Alert>{toApiError(portfolios.error).message}</Alert>}
      {list.length > 1 && (
        <label className="field">
          Portfolio{" "}
          <select value={portfolioId} onChange={(e) => setChosen(e.target.value)} data-field="portfolio">
            {list.map((p) => (
              <option key={p.portfolioId} value={p.portfolioId}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
      )}
      {portfolios.isSuccess && list.length === 0 && <CreatePortfolio />}
      {enabled && !portfolio && <QueryStatus query={view} testId="portfolio-error" loading="Loading the portfolio…" />}
      {portfolio && (
        <div className="cards">
          <Card title={portfolio.name}>
            <dl className="facts">
              <Fact label="Equity" testId="portfolio-equity">{money(portfolio.equityMinor, currency)}</Fact>
              <Fact label="Cash" testId="portfolio-cash">{money(portfolio.cashMinor, currency)}</Fact>
              <Fact label="Buying power">{money(portfolio.buyingPowerMinor, currency)}</Fact>
              {metrics && (
                <>
                  <Fact label="Return" testId="portfolio-return">{formatPercent(metrics.totalReturn)}</Fact>
                  <Fact label="Max drawdown">{formatPercent(metrics.maxDrawdown)}</Fact>
                  <Fact label="Sharpe">{formatRatio(metrics.sharpe)}</Fact>
                  <Fact label="Fills">{metrics.trades}</Fact>
                </>
              )}
            </dl>
          </Card>
          <Card title="Order ticket">
            <OrderTicket portfolioId={portfolio.portfolioId} />
          </Card>
        </div>
      )}
      {portfolio && (
        <>
          <Card title="Equity">
            <QueryBody query={equity} testId="equity-error" isEmpty={curves.equity.length === 0} empty="No bar has moved this portfolio yet.">
              <EquityChart equity={curves.equity} drawdown={curves.drawdown} label="Portfolio equity and drawdown" />
            </QueryBody>
          </Card>
          <Card title="Positions">
            {view.isError && <Alert testId="positions-error">{toApiError(view.error).message}</Alert>}
            {(view.data?.positions ?? []).length === 0 ? (
              <p className="muted">No positions.</p>
            ) : (
              <div className="table-scroll" role="region" aria-label="Positions" tabIndex={0}>
                <table className="table" data-testid="positions-table">
                  <caption className="visually-hidden">Positions marked to the latest bar</caption>
                  <thead>
                    <tr>
                      <th scope="col">Symbol</th>
                      <th scope="col" className="num">Qty</th>
                      <th scope="col" className="num">Average</th>
                      <th scope="col" className="num">Mark</th>
                      <th scope="col" className="num">Unrealised P&amp;L</th>
                      <th scope="col" className="num">Realised P&amp;L</th>
                    </tr>
                  </thead>
                  <tbody>
                    {view.data?.positions.map((p) => (
                      <tr key={p.symbol}>
                        <td>{p.symbol}</td>
                        <td className="num">{p.quantity.toString()}</td>
                        <td className="num">{formatPrice(p.averagePrice, 5)}</td>
                        <td className="num">{formatPrice(p.markPrice, 5)}</td>
                        <td className="num" data-testid="position-unrealised">{money(p.unrealisedPnlMinor, currency)}</td>
                        <td className="num">{money(p.realisedPnlMinor, currency)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </Card>
          <Card title="Signal results per model">
            <SignalResults portfolioId={portfolio.portfolioId} currency={currency} />
          </Card>
          <Card title="Orders">
            <QueryBody query={orders} testId="orders-error" isEmpty={(orders.data?.orders ?? []).length === 0} empty="No orders yet.">
              <OrdersTable orders={orders.data?.orders ?? []} currencyDecimals={5} />
            </QueryBody>
          </Card>
          <Card title="Fills">
            <QueryBody query={fills} testId="fills-error" isEmpty={(fills.data?.fills ?? []).length === 0} empty="No fills yet.">
              <div className="table-scroll" role="region" aria-label="Fills" tabIndex={0}>
                <table className="table" data-testid="fills-table">
                  <caption className="visually-hidden">Fills, newest first</caption>
                  <thead>
                    <tr>
                      <th scope="col">Bar</th>
                      <th scope="col">Symbol</th>
                      <th scope="col">Side</th>
                      <th scope="col" className="num">Qty</th>
                      <th scope="col" className="num">Price</th>
                      <th scope="col" className="num">Commission</th>
                    </tr>
                  </thead>
                  <tbody>
                    {fills.data?.fills.map((f) => (
                      <tr key={f.fillId}>
                        <td>{formatMarketTime(timestampDate(f.barTime))}</td>
                        <td>{f.symbol}</td>
                        <td>{SIDE_LABEL[f.side]}</td>
                        <td className="num">{f.quantity.toString()}</td>
                        <td className="num">{formatPrice(f.price, 5)}</td>
                        <td className="num">{money(f.commissionMinor, currency)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </QueryBody>
          </Card>
        </>
      )}
    </div>
  );
}
