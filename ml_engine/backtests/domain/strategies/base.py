"""What a strategy is: a parameter catalogue entry plus a pure bars -> desired-position function."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ml_engine.market_data.domain.bars import Bars
from ml_engine.shared.parameters import ParamSpec, ParamValue
from service_runtime.errors import FieldViolation, InvalidArgument

StrategyParams = Mapping[str, ParamValue]
# The engine-provided params of a strategy that `reads_costs`.
COST_PARAMS = ("commission", "slippage")
PositionArray = npt.NDArray[np.int8]


@dataclass(frozen=True)
class StrategySpec:
    """A catalogue entry: what ListStrategies shows."""

    name: str
    description: str
    params: tuple[ParamSpec, ...]

    def param(self, name: str) -> ParamSpec:
        return next(p for p in self.params if p.name == name)


@dataclass(frozen=True)
class StrategyCost:
    """Seconds per bar a strategy adds to the fill kernel's, for the time budget's estimate
    (engine.estimate_seconds): `per_run` in every run, `per_range` once per range of bars (what
    a sweep's sets share: ml_signals' features and model probabilities)."""

    per_run: float = 0.0
    per_range: float = 0.0


PositionsFunction = Callable[[Bars, StrategyParams], PositionArray]
CrossCheck = Callable[[StrategyParams], Sequence[FieldViolation]]


def no_cross_checks(_: StrategyParams) -> Sequence[FieldViolation]:
    return ()


@dataclass(frozen=True)
class StrategyDefinition:
    """A registered strategy.

    `positions(bars, params)` returns the desired position for each bar (+1 long, -1 short, 0 flat)
    as int8, where entry i uses only bars[0..i]; the engine acts on it at bar i+1's open.
    `first_signal_bar(params)` is the earliest bar index whose position may be non-zero: like
    backtesting.py, the first bar on which every indicator has a value is only history.
    `cross_checks` reports violations that involve several parameters (fast < slow).
    With `reads_costs`, the engine adds the backtest config's costs to the params it passes to
    `positions`, under COST_PARAMS ("commission", "slippage"): a strategy that trades only on an
    edge beyond costs (ml_signals) reads them.
    """

    spec: StrategySpec
    positions: PositionsFunction
    first_signal_bar: Callable[[StrategyParams], int]
    cross_checks: CrossCheck = field(default=no_cross_checks)
    reads_costs: bool = False
    cost: StrategyCost = StrategyCost()

    @property
    def name(self) -> str:
        return self.spec.name

    def resolve_params(self, params: Mapping[str, float]) -> dict[str, ParamValue]:
        """User params checked and typed, defaults filled in; InvalidArgument names each bad
        `params.<name>`."""
        resolved = self.resolve_each(params)
        violations = self.cross_checks(resolved)
        if violations:
            raise InvalidArgument(*violations)
        return resolved

    def resolve_each(self, params: Mapping[str, float]) -> dict[str, ParamValue]:
        """resolve_params without the checks across parameters (fast < slow): unknown names and
        values out of range raise InvalidArgument naming each `params.<name>`."""
        known = {p.name for p in self.spec.params}
        violations = [
            FieldViolation(
                f"params.{name}",
                f"unknown parameter for {self.name}; it takes {', '.join(p.name for p in self.spec.params)}",
            )
            for name in sorted(set(params) - known)
        ]
        resolved: dict[str, ParamValue] = {}
        for spec in self.spec.params:
            value = params.get(spec.name, spec.default)
            problem = spec.violation(value, f"params.{spec.name}")
            if problem is not None:
                violations.append(problem)
            else:
                resolved[spec.name] = spec.coerce(value)
        if violations:
            raise InvalidArgument(*violations)
        return resolved

    def minimum_bars(self, params: StrategyParams) -> int:
        """Bars needed for one trade to be possible: the first signal bar plus the bar it fills on."""
        return self.first_signal_bar(params) + 2
