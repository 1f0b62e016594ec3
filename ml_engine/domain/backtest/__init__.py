"""Backtesting domain: strategies, a numba fill kernel that follows backtesting.py, metrics.

Pure Python/numpy/numba: no gRPC, no I/O. Entry points: `run_backtest`, `list_strategies`,
`minimum_bars`, `warm_up`, `estimate_seconds`; strategies register through `register_strategy`.
"""

from ml_engine.domain.backtest.config import BacktestConfig, periods_per_year_for
from ml_engine.domain.backtest.engine import estimate_seconds, minimum_bars, run_backtest, warm_up
from ml_engine.domain.backtest.results import (
    BacktestMetrics,
    BacktestResult,
    EquityCurve,
    ExitReason,
    Side,
    Trade,
)
from ml_engine.domain.backtest.strategies import (
    ParamSpec,
    StrategyDefinition,
    StrategySpec,
    get_strategy,
    list_strategies,
    register_strategy,
)

__all__ = [
    "BacktestConfig",
    "BacktestMetrics",
    "BacktestResult",
    "EquityCurve",
    "ExitReason",
    "ParamSpec",
    "Side",
    "StrategyDefinition",
    "StrategySpec",
    "Trade",
    "estimate_seconds",
    "get_strategy",
    "list_strategies",
    "minimum_bars",
    "periods_per_year_for",
    "register_strategy",
    "run_backtest",
    "warm_up",
]
