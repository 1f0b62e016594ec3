"""The strategies the engine knows, by name.

Built-in rule strategies register here at import. A strategy defined elsewhere (the future
`ml_signal`, which reads a model's predictions) registers itself with `register_strategy` at its
own import; nothing else in the engine needs to change.
"""

from __future__ import annotations

from ml_engine.backtests.domain.strategies.base import StrategyDefinition, StrategySpec
from ml_engine.backtests.domain.strategies.bollinger_breakout import BOLLINGER_BREAKOUT
from ml_engine.backtests.domain.strategies.rsi_reversion import RSI_REVERSION
from ml_engine.backtests.domain.strategies.sma_cross import SMA_CROSS
from service_runtime.errors import InvalidArgument

_STRATEGIES: dict[str, StrategyDefinition] = {}


def register_strategy(definition: StrategyDefinition, *, replace: bool = False) -> None:
    """Adds `definition` under its spec's name; a second registration of a name is a bug unless `replace`."""
    if definition.name in _STRATEGIES and not replace:
        raise ValueError(f"strategy {definition.name!r} is already registered")
    _STRATEGIES[definition.name] = definition


def get_strategy(name: str) -> StrategyDefinition:
    """The strategy called `name`, or INVALID_ARGUMENT on `strategy`."""
    definition = _STRATEGIES.get(name)
    if definition is None:
        raise InvalidArgument.field(
            "strategy", f"unknown strategy {name!r}; use one of {', '.join(_STRATEGIES)}"
        )
    return definition


def list_strategies() -> tuple[StrategySpec, ...]:
    """The catalogue, in registration order."""
    return tuple(d.spec for d in _STRATEGIES.values())


for _builtin in (SMA_CROSS, RSI_REVERSION, BOLLINGER_BREAKOUT):
    register_strategy(_builtin)
