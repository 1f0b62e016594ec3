import { useQuery } from "@tanstack/react-query";
import { Link } from "@tanstack/react-router";
import { OrderTicket } from "./OrderTicket";
import { paperClient } from "./paperClient";

/** The order ticket on the market dashboard, for the first paper portfolio and the shown symbol. */
export function MarketOrderTicket({ symbol }: { symbol: string }) {
  const portfolios = useQuery({ queryKey: ["paper", "portfolios"], queryFn: () => paperClient.listPortfolios({}) });
  const first = portfolios.data?.portfolios[0];
  if (portfolios.isPending) return null;
  if (!first)
    return (
      <p className="muted">
        <Link to="/portfolio">Open a paper portfolio</Link> to place orders.
      </p>
    );
  return <OrderTicket key={symbol} portfolioId={first.portfolioId} symbol={symbol} />;
}
