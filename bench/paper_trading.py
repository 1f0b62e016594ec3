"""Paper trading benchmark, every figure from one run on one machine:

    python -m bench.paper_trading [--open-orders 10000] [--orders 300]

1. One bar with N open orders (in process, the real store and the consumer's use case `apply_bar`):
   N resting limit orders spread over 100 portfolios, 1% of them reached by the bar; median seconds
   to process one bar (load the live orders and books under lock, match with the shared fill model,
   store fills, ledger, positions, equity and the cursor in one transaction), over 5 bars.
2. Orders placed through Envoy (REST POST /api/paper/portfolios/{id}/orders, signed in): orders/s
   with one client, then with 8 concurrent clients on 8 portfolios.

It starts a private Stack on its own ports with temp keys and SQLite (or DATABASE_URL when given,
for PostgreSQL), so it does not touch a running system.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.private_stack import private_stack_env, write_report

# Below the kernel's ephemeral ports: bench/private_stack.py says why.
PORTS = {
    "ENVOY_PORT": 28480,
    "ENVOY_ADMIN_PORT": 29941,
    "BUSINESS_GRPC_PORT": 25451,
    "ML_GRPC_PORT": 25452,
    "GATEWAY_PORT": 28400,
}
HOUR = 3600


def bar_with_open_orders(url: str, open_orders: int) -> dict[str, Any]:
    from business.paper_trading.data.repositories import SqlPaperRepository
    from business.paper_trading.domain.context import PaperTrading, new_id
    from business.paper_trading.domain.entities import (
        Bar,
        Costs,
        Instrument,
        Order,
        OrderStatus,
        OrderType,
        Portfolio,
        Side,
        TimeInForce,
    )
    from business.paper_trading.domain.feed import apply_bar
    from business.paper_trading.domain.ports import PaperRepository
    from business.shared.database import BusinessStore

    store = BusinessStore(url)
    paper = PaperTrading(store.units_of_work(SqlPaperRepository), Costs(commission=0.001))
    symbol = f"B{uuid.uuid4().hex[:6].upper()}"
    start = 2_000_000_000
    now = datetime.now(UTC)
    portfolios = [new_id() for _ in range(100)]

    def build(repo: PaperRepository) -> None:
        repo.save_instrument(Instrument(symbol, 0.01, 1, start, 100.0))
        for pid in portfolios:
            repo.add_portfolio(Portfolio(pid, f"bench-{pid[:8]}", "bench", "USD", 10**12, 10**12, now))
        orders = []
        for n in range(open_orders):
            reached = n % 100 == 0  # 1% sit at 99.50, inside every bar below; the rest far below
            orders.append(
                Order(
                    id=new_id(), portfolio_id=portfolios[n % 100], user_id="bench", symbol=symbol,
                    side=Side.BUY, type=OrderType.LIMIT, quantity=1, time_in_force=TimeInForce.GTC,
                    status=OrderStatus.WORKING, created_at=now, sequence=n,
                    limit_price=99.5 if reached else 50.0 + (n % 400) * 0.01, placed_after=start,
                )
            )  # fmt: skip
        repo.add_orders(orders)

    built = time.perf_counter()
    paper.transactions.run_sync(build)
    build_s = time.perf_counter() - built
    seconds = []
    for i in range(5):
        bar = Bar(symbol, start + HOUR * (i + 1), 100.0, 100.5, 99.0, 100.2)
        started = time.perf_counter()
        outcome = apply_bar(paper, bar)
        seconds.append(time.perf_counter() - started)
        assert outcome is not None
    store.close()
    return {
        "open_orders": open_orders,
        "build_s": round(build_s, 2),
        "bar_seconds_median": round(statistics.median(seconds), 3),
        "bar_seconds_first": round(seconds[0], 3),  # the bar that fills 1% of the orders
    }


def signed_in(client: httpx.Client) -> dict[str, str]:
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    password = "bench-correct-horse-battery-staple"
    client.post("/api/auth/register", json={"email": email, "password": password}).raise_for_status()
    tokens = client.post("/api/auth/login", json={"email": email, "password": password}).json()["tokens"]
    return {"authorization": f"Bearer {tokens['accessToken']}"}


def new_portfolio(client: httpx.Client, auth: dict[str, str]) -> str:
    body = {"name": "bench", "currency": "USD", "initialCashMinor": "100000000000"}
    reply = client.post("/api/paper/portfolios", json=body, headers=auth)
    reply.raise_for_status()
    return str(reply.json()["portfolio"]["portfolioId"])


ORDER = {
    "symbol": "GOOG",
    "side": "ORDER_SIDE_BUY",
    "type": "ORDER_TYPE_LIMIT",
    "quantity": "1",
    "limitPrice": 10,
}


async def edge_orders(edge: str, orders: int, clients: int) -> dict[str, Any]:
    with httpx.Client(base_url=edge, timeout=30) as setup:
        auth = signed_in(setup)
        portfolios = [new_portfolio(setup, auth) for _ in range(clients)]

    async def client_loop(pid: str, count: int) -> None:
        async with httpx.AsyncClient(base_url=edge, timeout=30) as client:
            for _ in range(count):
                reply = await client.post(f"/api/paper/portfolios/{pid}/orders", json=ORDER, headers=auth)
                reply.raise_for_status()

    started = time.perf_counter()
    await asyncio.gather(*(client_loop(pid, orders // clients) for pid in portfolios))
    elapsed = time.perf_counter() - started
    placed = orders // clients * clients
    return {
        "clients": clients,
        "orders": placed,
        "seconds": round(elapsed, 2),
        "orders_per_s": round(placed / elapsed, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--open-orders", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=300, help="orders placed through Envoy per cell")
    parser.add_argument("--no-edge", action="store_true", help="only the in-process bar figure")
    args = parser.parse_args(argv)

    from business.shared.database import migrate
    from tools.supervisor import Stack

    tmp = Path(tempfile.mkdtemp(prefix="bench-paper-"))
    url = os.environ.get("DATABASE_URL", f"sqlite:///{tmp / 'business.db'}")
    migrate(url)
    report: dict[str, Any] = {
        "cpu_cores": os.cpu_count(),
        "database": url.split(":", 1)[0],
        "load_average_at_start": [round(x, 1) for x in os.getloadavg()],
    }
    report["one_bar"] = bar_with_open_orders(url, args.open_orders)
    print(json.dumps(report["one_bar"]), flush=True)
    if not args.no_edge:
        env = private_stack_env(tmp, PORTS, url)
        stack = Stack(env=env, log_dir=tmp / "logs")
        edge = f"http://127.0.0.1:{PORTS['ENVOY_PORT']}"
        print(f"starting stack (logs in {tmp / 'logs'}) ...", flush=True)
        try:
            stack.start()
            report["edge_one_client"] = asyncio.run(edge_orders(edge, args.orders, 1))
            report["edge_8_clients"] = asyncio.run(edge_orders(edge, args.orders, 8))
        finally:
            stack.stop()
    write_report("paper_trading", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
