"""The shared fill model as plain Python (business's paper trading calls it uncompiled)."""

from __future__ import annotations

import math

import pytest

from service_runtime import fill_model as fm


def test_market_entry_pays_slippage_against_the_trader() -> None:
    assert fm.entry_price(100.0, 1.0, 0.01) == pytest.approx(101.0)
    assert fm.entry_price(100.0, -1.0, 0.01) == pytest.approx(99.0)


@pytest.mark.parametrize(
    ("side", "open_", "high", "low", "stop", "expected"),
    [
        (1.0, 100.0, 103.0, 99.0, 102.0, 102.0),  # buy stop reached inside the bar
        (1.0, 104.0, 105.0, 103.0, 102.0, 104.0),  # gap above the stop: the open
        (1.0, 100.0, 101.0, 99.0, 102.0, math.nan),  # not reached
        (-1.0, 100.0, 101.0, 97.0, 98.0, 98.0),  # sell stop
        (-1.0, 96.0, 97.0, 95.0, 98.0, 96.0),  # gap below: the open
    ],
)
def test_stop_fills_on_the_bar_range(
    side: float, open_: float, high: float, low: float, stop: float, expected: float
) -> None:
    price = fm.stop_fill_price(side, open_, high, low, stop)
    assert (math.isnan(price) and math.isnan(expected)) or price == expected


@pytest.mark.parametrize(
    ("side", "open_", "high", "low", "limit", "expected"),
    [
        (1.0, 100.0, 101.0, 97.0, 98.0, 98.0),
        (1.0, 96.0, 97.0, 95.0, 98.0, 96.0),  # opens below a buy limit: the better open
        (-1.0, 100.0, 103.0, 99.0, 102.0, 102.0),
        (-1.0, 100.0, 101.0, 99.0, 102.0, math.nan),
    ],
)
def test_limit_fills_on_the_bar_range(
    side: float, open_: float, high: float, low: float, limit: float, expected: float
) -> None:
    price = fm.limit_fill_price(side, open_, high, low, limit)
    assert (math.isnan(price) and math.isnan(expected)) or price == expected


def test_stop_limit_needs_the_trigger_and_the_limit() -> None:
    assert fm.stop_limit_fill_price(1.0, 100.0, 103.0, 99.0, 102.0, 102.5) == 102.0
    assert math.isnan(
        fm.stop_limit_fill_price(1.0, 104.0, 105.0, 103.5, 102.0, 103.0)
    )  # gapped past the limit
    assert math.isnan(fm.stop_limit_fill_price(1.0, 100.0, 101.0, 99.0, 102.0, 103.0))


def test_stop_first_when_both_bracket_legs_are_inside_one_bar() -> None:
    reason, price = fm.protective_exit(10.0, 100.0, 110.0, 90.0, 95.0, 105.0, True, True)
    assert (reason, price) == (fm.EXIT_STOP_LOSS, 95.0)
    reason, price = fm.protective_exit(-10.0, 100.0, 110.0, 90.0, 105.0, 95.0, True, True)
    assert (reason, price) == (fm.EXIT_STOP_LOSS, 105.0)
    reason, price = fm.protective_exit(10.0, 100.0, 106.0, 99.0, 95.0, 105.0, True, True)
    assert (reason, price) == (fm.EXIT_TAKE_PROFIT, 105.0)


def test_sizing_leaves_room_for_commission_and_slippage() -> None:
    units = fm.affordable_units(10_000.0, 100.0, 1.0, 0.001, 0.001, 1.0)
    assert units == 99.0
    assert fm.affordable_units(50.0, 100.0, 1.0, 0.0, 0.0, 1.0) == 0.0
