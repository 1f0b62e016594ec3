"""Paper trading through Envoy on the real stack: REST and gRPC-Web, a market bracket order filled
by the live bar feed (ML engine StreamBars -> business over a service token), P&L on the portfolio,
bad input as 400 naming the field, another user's portfolio 404, no token 401, and the internal
bar stream closed to users."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.conftest import EDGE, bearer
from tests.e2e import grpc_web
from tests.e2e.accounts import new_email, ok, post, register_verified, tokens_of
from tests.support.smtp_sink import SmtpSink
from tools.supervisor import Stack
from trading.paper.v1 import paper_trading_service_pb2 as pb


def get(path: str, token: str = "") -> httpx.Response:
    return httpx.get(f"{EDGE}{path}", headers=bearer(token) if token else {}, timeout=30)


def signed_in(smtp_sink: SmtpSink) -> str:
    email = register_verified(smtp_sink, new_email())
    return str(tokens_of(email)["accessToken"])


def place_when_priced(pid: str, body: dict[str, Any], token: str) -> dict[str, Any]:
    """Places the order once the feed has delivered a first EURUSD bar (no price before it)."""
    for _ in range(120):
        reply = post(f"/api/paper/portfolios/{pid}/orders", body, token)
        if reply.status_code != 400 or "no price" not in reply.text:
            return ok(reply)
        time.sleep(0.5)
    raise AssertionError("the bar feed never priced EURUSD")


def test_a_bracket_order_fills_on_the_live_feed(stack: Stack, smtp_sink: SmtpSink) -> None:
    token = signed_in(smtp_sink)
    portfolio = ok(
        post(
            "/api/paper/portfolios", {"name": "E2E", "currency": "USD", "initialCashMinor": 10_000_000}, token
        )
    )
    pid = portfolio["portfolio"]["portfolioId"]
    assert portfolio["portfolio"]["cashMinor"] == "10000000"

    order = {
        "symbol": "EURUSD", "side": "ORDER_SIDE_BUY", "type": "ORDER_TYPE_MARKET", "quantity": "1000",
        "bracket": {"takeProfitPrice": 9.0, "stopLossPrice": 0.1}, "idempotencyKey": "e2e-1",
    }  # fmt: skip
    placed = place_when_priced(pid, order, token)
    assert [leg["status"] for leg in placed["legs"]] == ["ORDER_STATUS_PENDING"] * 2
    again = ok(post(f"/api/paper/portfolios/{pid}/orders", order, token))
    assert again["order"]["orderId"] == placed["order"]["orderId"]

    for _ in range(120):
        orders = ok(get(f"/api/paper/portfolios/{pid}/orders", token))["orders"]
        entry = next(o for o in orders if o["orderId"] == placed["order"]["orderId"])
        if entry["status"] == "ORDER_STATUS_FILLED":
            break
        time.sleep(0.5)
    else:
        raise AssertionError("the market order never filled")
    fills = ok(get(f"/api/paper/portfolios/{pid}/fills", token))["fills"]
    assert [(f["quantity"], f["price"]) for f in fills] == [("1000", entry["fillPrice"])]
    assert {o["status"] for o in orders if o["role"] != "ORDER_ROLE_ENTRY"} <= {
        "ORDER_STATUS_WORKING", "ORDER_STATUS_PENDING"
    }  # fmt: skip

    view = ok(get(f"/api/paper/portfolios/{pid}", token))
    (position,) = view["positions"]
    assert position["symbol"] == "EURUSD" and position["quantity"] == "1000"
    assert "unrealisedPnlMinor" in position or position["markPrice"] == position["averagePrice"]

    # gRPC-Web, as the browser calls it
    reply = grpc_web.call(
        f"{EDGE}/trading.paper.v1.PaperTradingService/GetPortfolio",
        pb.GetPortfolioRequest(portfolio_id=pid),
        headers=bearer(token),
    )
    assert reply.grpc_status == 0, reply.grpc_message
    assert pb.GetPortfolioResponse.FromString(reply.messages[0]).portfolio.portfolio_id == pid


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
