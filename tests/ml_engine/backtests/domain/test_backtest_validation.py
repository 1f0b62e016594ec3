"""Bad input raises InvalidArgument naming the field as the API does; the catalogue and registry."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from backtesting.test import GOOG

from ml_engine.backtests.domain import (
    BacktestConfig,
    StrategyDefinition,
    StrategySpec,
    get_strategy,
    list_strategies,
    minimum_bars,
    register_strategy,
    run_backtest,
)
from ml_engine.backtests.domain.strategies import registry
from service_runtime.errors import InvalidArgument
from tests.ml_engine.frames import bars_from_frame

BARS = bars_from_frame(GOOG.iloc[:300])


def fields_of(error: pytest.ExceptionInfo[InvalidArgument]) -> list[str]:
    return [v.field for v in error.value.violations]


def test_unknown_strategy_names_strategy() -> None:
    with pytest.raises(InvalidArgument) as error:
        run_backtest(BARS, "buy_the_dip", {})
    assert fields_of(error) == ["strategy"]
    assert "sma_cross" in error.value.violations[0].description


@pytest.mark.parametrize(
    ("strategy", "params", "fields"),
    [
        ("sma_cross", {"speed": 3}, ["params.speed"]),
        ("sma_cross", {"fast": 1}, ["params.fast"]),
        ("sma_cross", {"fast": 5.5}, ["params.fast"]),
        ("sma_cross", {"slow": math.nan}, ["params.slow"]),
        ("sma_cross", {"slow": math.inf}, ["params.slow"]),
        ("sma_cross", {"slow": True}, ["params.slow"]),
        ("sma_cross", {"fast": 30, "slow": 30}, ["params.fast"]),
        ("sma_cross", {"fast": 40, "slow": 20}, ["params.fast"]),
        ("sma_cross", {"fast": 0, "slow": 5000, "x": 1}, ["params.x", "params.fast", "params.slow"]),
        ("rsi_reversion", {"lower": 70, "upper": 30}, ["params.lower"]),
        ("rsi_reversion", {"upper": 100}, ["params.upper"]),
        ("rsi_reversion", {"period": 1}, ["params.period"]),
        ("bollinger_breakout", {"nbdev": 0}, ["params.nbdev"]),
        ("bollinger_breakout", {"period": 20.5}, ["params.period"]),
    ],
)
def test_bad_params_name_each_param(strategy: str, params: dict[str, Any], fields: list[str]) -> None:
    with pytest.raises(InvalidArgument) as error:
        run_backtest(BARS, strategy, params)
    assert fields_of(error) == fields


def test_integral_float_params_are_accepted_as_ints() -> None:
    resolved = get_strategy("sma_cross").resolve_params({"fast": 5.0, "slow": 30.0})
    assert resolved == {"fast": 5, "slow": 30}
    assert all(type(v) is int for v in resolved.values())
    assert get_strategy("rsi_reversion").resolve_params({"lower": 20}) == {
        "period": 14,
        "lower": 20.0,
        "upper": 70.0,
    }


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"initial_cash": 0}, "initial_cash"),
        ({"initial_cash": -5.0}, "initial_cash"),
        ({"initial_cash": math.inf}, "initial_cash"),
        ({"commission": -0.001}, "commission"),
        ({"commission": 0.1}, "commission"),
        ({"slippage": 0.2}, "slippage"),
        ({"slippage": math.nan}, "slippage"),
        ({"position_size": 0}, "position_size"),
        ({"position_size": 1.5}, "position_size"),
        ({"stop_loss": 0.0}, "stop_loss"),
        ({"stop_loss": 1.0}, "stop_loss"),
        ({"take_profit": -0.1}, "take_profit"),
        ({"max_equity_points": 1}, "max_equity_points"),
        ({"max_equity_points": 100_001}, "max_equity_points"),
        ({"max_equity_points": 10.0}, "max_equity_points"),
        ({"walk_forward_splits": 1}, "walk_forward_splits"),
        ({"walk_forward_splits": 21}, "walk_forward_splits"),
        ({"periods_per_year": 0}, "periods_per_year"),
    ],
)
def test_bad_config_names_the_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        BacktestConfig(**fields)
    assert fields_of(error) == [field]


def test_config_reports_every_bad_field_at_once() -> None:
    with pytest.raises(InvalidArgument) as error:
        BacktestConfig(commission=0.5, slippage=-1, stop_loss=2.0)
    assert fields_of(error) == ["commission", "slippage", "stop_loss"]


def test_config_edges_are_accepted() -> None:
    config = BacktestConfig(
        commission=0.0999,
        slippage=0,
        position_size=1,
        stop_loss=0.999,
        take_profit=0.001,
        max_equity_points=2,
        walk_forward_splits=20,
    )
    assert config.order_size_fraction < 1  # all in, as backtesting.py's default size
    assert BacktestConfig(position_size=0.25).order_size_fraction == 0.25


def test_too_few_bars_names_start_date() -> None:
    assert minimum_bars("sma_cross", {"slow": 50}) == 52
    run_backtest(BARS.slice(0, 52), "sma_cross", {"slow": 50})
    with pytest.raises(InvalidArgument) as error:
        run_backtest(BARS.slice(0, 51), "sma_cross", {"slow": 50})
    assert fields_of(error) == ["start_date"]
    assert error.value.violations[0].description == "range has 51 bars, strategy sma_cross needs at least 52"
    with pytest.raises(InvalidArgument) as error:
        run_backtest(BARS.slice(0, 0), "rsi_reversion", {})
    assert fields_of(error) == ["start_date"]


def test_minimum_bars_checks_params_first() -> None:
    with pytest.raises(InvalidArgument) as error:
        minimum_bars("sma_cross", {"slow": 2})
    assert fields_of(error) == ["params.slow"]


def test_walk_forward_folds_too_short_name_walk_forward_splits() -> None:
    with pytest.raises(InvalidArgument) as error:
        run_backtest(BARS, "sma_cross", {"slow": 100}, BacktestConfig(walk_forward_splits=3))
    assert fields_of(error) == ["walk_forward_splits"]
    assert "100 bars each" in error.value.violations[0].description


def test_catalogue_lists_the_builtin_strategies_with_valid_defaults() -> None:
    specs = list_strategies()
    assert [s.name for s in specs][:3] == ["sma_cross", "rsi_reversion", "bollinger_breakout"]
    for spec in specs:
        assert spec.description
        for param in spec.params:
            assert param.type in ("int", "float")
            assert param.min <= param.default <= param.max
            assert param.description
        defaults = {p.name: p.default for p in spec.params}
        assert get_strategy(spec.name).resolve_params({}) == defaults
    assert [(p.name, p.type, p.default) for p in specs[0].params] == [
        ("fast", "int", 10),
        ("slow", "int", 20),
    ]


def test_register_strategy_adds_to_the_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_STRATEGIES", dict(registry._STRATEGIES))
    always_long = StrategyDefinition(
        spec=StrategySpec("always_long", "Long from bar 1 on.", ()),
        positions=lambda bars, params: np.r_[0, np.ones(len(bars) - 1)].astype(np.int8),
        first_signal_bar=lambda params: 1,
    )
    register_strategy(always_long)
    assert "always_long" in [s.name for s in list_strategies()]
    result = run_backtest(BARS, "always_long", {})
    assert len(result.trades) == 1 and result.trades[0].entry_bar == 2  # signal on bar 1, fill on bar 2
    with pytest.raises(ValueError, match="already registered"):
        register_strategy(always_long)
    register_strategy(always_long, replace=True)
