"""Paper trading through Envoy on the real stack: REST and gRPC-Web, a market bracket order filled
by the live bar feed (ML engine StreamBars -> business over a service token), P&L on the portfolio,
bad input as 400 naming the field, another user's portfolio 404, no token 401, and the internal
bar stream closed to users.

The fill tests run on a stack of their own (SQLite stores, fresh replay), as business runs with
`make run`: every configured instrument followed, BTCUSD among them without stored bars. After its
ML engine is killed and restarted, an order still fills: each symbol's replay resumes after the bar
paper trading processed last (docs/paper-trading.md). How long a restart used to hold fills back
grows with the stack's age, so the defect itself is reproduced in process, in
tests/business/paper_trading/test_bar_feed.py."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service_runtime.signing_keys import SigningKeyStore
from tests.conftest import EDGE, bearer, claims, private_stack_env
from tests.e2e import grpc_web
from tests.e2e.accounts import new_email, ok, post, register_verified, tokens_of
from tests.support.smtp_sink import SmtpSink
from tools.supervisor import Stack
from trading.paper.v1 import paper_trading_service_pb2 as pb


def get(path: str, token: str = "", edge: str = EDGE) -> httpx.Response:
    return httpx.get(f"{edge}{path}", headers=bearer(token) if token else {}, timeout=30)


def post_to(edge: str, path: str, body: dict[str, Any], token: str) -> httpx.Response:
    return httpx.post(f"{edge}{path}", json=body, headers=bearer(token), timeout=30)


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, SigningKeyStore, Stack]]:
    """A stack of this module's own on free ports with SQLite stores: its edge, signing keys, stack."""
    tmp = tmp_path_factory.mktemp("paper-stack")
    env, edge = private_stack_env(tmp)
    for shared in ("MYSQL_HOST", "MYSQL_PORT", "MYSQL_DATABASE", "MYSQL_USER", "MYSQL_PASSWORD", "REDIS_URL"):
        env.pop(shared, None)
    env["DATABASE_URL"] = f"sqlite:///{tmp / 'business.db'}"
    running = Stack(env=env, log_dir=tmp / "logs")
    running.start()
    try:
        yield edge, SigningKeyStore(Path(env["JWT_KEYS_DIR"])), running
    finally:
        running.stop()


def signed_in(smtp_sink: SmtpSink) -> str:
    email = register_verified(smtp_sink, new_email())
    return str(tokens_of(email)["accessToken"])


def place_when_priced(edge: str, pid: str, body: dict[str, Any], token: str) -> dict[str, Any]:
    """Places the order once the feed has delivered a first EURUSD bar (no price before it)."""
    for _ in range(120):
        reply = post_to(edge, f"/api/paper/portfolios/{pid}/orders", body, token)
        if reply.status_code != 400 or "no price" not in reply.text:
            return ok(reply)
        time.sleep(0.5)
    raise AssertionError("the bar feed never priced EURUSD")


def wait_filled(
    edge: str, pid: str, order_id: str, token: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The filled order and all the portfolio's orders, once the feed has filled it (60 s at most)."""
    for _ in range(120):
        orders = ok(get(f"/api/paper/portfolios/{pid}/orders", token, edge))["orders"]
        entry = next(o for o in orders if o["orderId"] == order_id)
        if entry["status"] == "ORDER_STATUS_FILLED":
            return entry, orders
        time.sleep(0.5)
    raise AssertionError(f"the market order never filled: {entry['status']}")


def new_portfolio(edge: str, token: str) -> str:
    body = {"name": "E2E", "currency": "USD", "initialCashMinor": 10_000_000}
    portfolio = ok(post_to(edge, "/api/paper/portfolios", body, token))
    assert portfolio["portfolio"]["cashMinor"] == "10000000"
    return str(portfolio["portfolio"]["portfolioId"])


def user_token(keys: SigningKeyStore) -> str:
    return keys.sign(claims(sub=f"paper-{uuid.uuid4().hex[:8]}", roles=["user"], plan="free"))


def test_a_bracket_order_fills_on_the_live_feed(own_stack: tuple[str, SigningKeyStore, Stack]) -> None:
    edge, keys, _ = own_stack
    token = user_token(keys)
    pid = new_portfolio(edge, token)

    order = {
        "symbol": "EURUSD", "side": "ORDER_SIDE_BUY", "type": "ORDER_TYPE_MARKET", "quantity": "1000",
        "bracket": {"takeProfitPrice": 9.0, "stopLossPrice": 0.1}, "idempotencyKey": "e2e-1",
    }  # fmt: skip
    placed = place_when_priced(edge, pid, order, token)
    assert [leg["status"] for leg in placed["legs"]] == ["ORDER_STATUS_PENDING"] * 2
    again = ok(post_to(edge, f"/api/paper/portfolios/{pid}/orders", order, token))
    assert again["order"]["orderId"] == placed["order"]["orderId"]

    entry, orders = wait_filled(edge, pid, placed["order"]["orderId"], token)
    fills = ok(get(f"/api/paper/portfolios/{pid}/fills", token, edge))["fills"]
    assert [(f["quantity"], f["price"]) for f in fills] == [("1000", entry["fillPrice"])]
    assert {o["status"] for o in orders if o["role"] != "ORDER_ROLE_ENTRY"} <= {
        "ORDER_STATUS_WORKING", "ORDER_STATUS_PENDING"
    }  # fmt: skip

    view = ok(get(f"/api/paper/portfolios/{pid}", token, edge))
    (position,) = view["positions"]
    assert position["symbol"] == "EURUSD" and position["quantity"] == "1000"
    assert "unrealisedPnlMinor" in position or position["markPrice"] == position["averagePrice"]

    # gRPC-Web, as the browser calls it
    reply = grpc_web.call(
        f"{edge}/trading.paper.v1.PaperTradingService/GetPortfolio",
        pb.GetPortfolioRequest(portfolio_id=pid),
        headers=bearer(token),
    )
    assert reply.grpc_status == 0, reply.grpc_message
    assert pb.GetPortfolioResponse.FromString(reply.messages[0]).portfolio.portfolio_id == pid


def test_orders_fill_on_the_next_bar_after_the_ml_engine_restarts(
    own_stack: tuple[str, SigningKeyStore, Stack],
) -> None:
    edge, keys, running = own_stack
    token = user_token(keys)
    pid = new_portfolio(edge, token)
    buy = {"symbol": "EURUSD", "side": "ORDER_SIDE_BUY", "type": "ORDER_TYPE_MARKET", "quantity": "1000"}
    first = place_when_priced(edge, pid, {**buy, "idempotencyKey": "before"}, token)
    wait_filled(edge, pid, first["order"]["orderId"], token)  # EURUSD's cursor is well past its first bar

    running.children["ml_engine"].kill()
    running.start_child("ml_engine")
    second = ok(
        post_to(edge, f"/api/paper/portfolios/{pid}/orders", {**buy, "idempotencyKey": "after"}, token)
    )
    entry, _ = wait_filled(edge, pid, second["order"]["orderId"], token)
    assert entry["fillPrice"] > 0
    fills = ok(get(f"/api/paper/portfolios/{pid}/fills", token, edge))["fills"]
    assert len(fills) == 2


def test_refusals_through_the_edge(stack: Stack, smtp_sink: SmtpSink) -> None:
    alice, bob = signed_in(smtp_sink), signed_in(smtp_sink)
    pid = ok(post("/api/paper/portfolios", {"name": "A", "initialCashMinor": 100_000}, alice))["portfolio"][
        "portfolioId"
    ]

    unknown = {"symbol": "NOPE", "side": "ORDER_SIDE_BUY", "type": "ORDER_TYPE_MARKET", "quantity": "1"}
    bad = post(f"/api/paper/portfolios/{pid}/orders", unknown, alice)
    assert bad.status_code == 400
    assert "symbol" in bad.text

    assert get(f"/api/paper/portfolios/{pid}", bob).status_code == 404
    assert get(f"/api/paper/portfolios/{pid}/orders", bob).status_code == 404
    assert get("/api/paper/portfolios").status_code == 401
    # The bar stream is for platform services only.
    assert get("/api/internal/bars/stream", alice).status_code == 403
