"""Signal results per model and version, from stored orders and fills (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from business.paper_trading.domain.entities import (
    Fill,
    Order,
    OrderRole,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from business.paper_trading.domain.signal_results import decode_models, encode_models, signal_results
from service_runtime.errors import InvalidArgument

NOW = datetime(2026, 11, 29, tzinfo=UTC)


def order(
    id_: str,
    side: Side = Side.BUY,
    *,
    role: OrderRole = OrderRole.ENTRY,
    parent: str | None = None,
    prediction: str | None = "p",
    models: str | None = None,
    quantity: int = 10,
) -> Order:
    return Order(
        id=id_, portfolio_id="pf", user_id="u", symbol="ACME", side=side, type=OrderType.MARKET,
        quantity=quantity, time_in_force=TimeInForce.GTC, status=OrderStatus.FILLED, created_at=NOW,
        role=role, parent_id=parent, prediction_id=prediction, signal_models=models,
    )  # fmt: skip


def fill(order_id: str, side: Side, price: float, quantity: int = 10, commission: int = 0) -> Fill:
    return Fill(f"f-{order_id}", order_id, "pf", "ACME", side, quantity, price, commission, 0)


def test_results_are_grouped_per_model_and_version_with_pnl_after_commissions() -> None:
    orders = [
        # A long that hits its take-profit: +(110 - 100) x 10 = 100.00, less 1.00 + 1.10 commission.
        order("win", models="xgb@1,baseline_atr@"),
        order("win-tp", Side.SELL, role=OrderRole.TAKE_PROFIT, parent="win"),
        order("win-sl", Side.SELL, role=OrderRole.STOP_LOSS, parent="win"),
        # A short that hits its stop: -(105 - 100) x 10 = -50.00.
        order("loss", Side.SELL, models="xgb@1"),
        order("loss-sl", Side.BUY, role=OrderRole.STOP_LOSS, parent="loss"),
        # Filled, still open; and one never filled; both from version 2.
        order("open", models="xgb@2"),
        order("open-tp", Side.SELL, role=OrderRole.TAKE_PROFIT, parent="open"),
        order("waiting", models="xgb@2"),
        # A plain order (no prediction) is not a signal order; an old signal order has no models.
        order("manual", prediction=None),
        order("old"),
    ]
    fills = [
        fill("win", Side.BUY, 100.0, commission=100),
        fill("win-tp", Side.SELL, 110.0, commission=110),
        fill("loss", Side.SELL, 100.0),
        fill("loss-sl", Side.BUY, 105.0),
        fill("open", Side.BUY, 50.0),
        fill("manual", Side.BUY, 50.0),
    ]
    results = {(r.model_name, r.model_version): r for r in signal_results(orders, fills, scale=100)}
    assert list(results) == [("", ""), ("baseline_atr", ""), ("xgb", "1"), ("xgb", "2")]
    v1 = results[("xgb", "1")]
    assert (v1.orders_placed, v1.orders_filled, v1.closed_trades, v1.wins) == (2, 2, 2, 1)
    assert v1.realised_pnl_minor == 10_000 - 210 - 5_000
    assert v1.average_return == pytest.approx(((10_000 - 210) / 100_000 + -5_000 / 100_000) / 2)
    baseline = results[("baseline_atr", "")]
    assert (baseline.closed_trades, baseline.wins, baseline.realised_pnl_minor) == (1, 1, 9_790)
    v2 = results[("xgb", "2")]
    assert (v2.orders_placed, v2.orders_filled, v2.closed_trades, v2.realised_pnl_minor) == (2, 1, 0, 0)
    assert v2.average_return == 0.0
    old = results[("", "")]
    assert (old.orders_placed, old.orders_filled) == (1, 0)


def test_models_round_trip_and_bad_names_are_refused() -> None:
    stored = encode_models([("xgb", "1"), ("baseline_atr", ""), ("xgb", "1")])
    assert stored == "xgb@1,baseline_atr@"
    assert decode_models(stored) == [("xgb", "1"), ("baseline_atr", "")]
    assert decode_models(None) == [("", "")]
    for bad in ([("", "1")], [("a,b", "1")], [("m", "1@2")], [(f"m{i}", "1") for i in range(17)]):
        with pytest.raises(InvalidArgument):
            encode_models(bad)
