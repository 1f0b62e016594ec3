"""Trading strategies: catalogue specs, parameter checks and desired positions per bar."""

from ml_engine.backtests.domain.strategies.base import (
    PositionArray,
    StrategyDefinition,
    StrategyParams,
    StrategySpec,
)
from ml_engine.backtests.domain.strategies.registry import get_strategy, list_strategies, register_strategy

__all__ = [
    "PositionArray",
    "StrategyDefinition",
    "StrategyParams",
    "StrategySpec",
    "get_strategy",
    "list_strategies",
    "register_strategy",
]
