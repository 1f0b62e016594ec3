"""One validated indicator request: a catalogue name with every parameter resolved."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ml_engine.indicators.domain.catalogue import IndicatorSpec, find_indicator, supported_names
from ml_engine.shared.parameters import ParamValue, format_value
from service_runtime.errors import InvalidArgument

INDICATORS_FIELD = "indicators"  # the request field (REST query and gRPC) every error names
MAX_ECHO = 40  # longest piece of client text quoted back in an error

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def invalid(description: str) -> InvalidArgument:
    return InvalidArgument.field(INDICATORS_FIELD, description)


def clip(text: str) -> str:
    """Client text cut short for an error message, so a huge input is not echoed back."""
    return text if len(text) <= MAX_ECHO else text[:MAX_ECHO] + "..."


def quote(text: str) -> str:
    return repr(clip(text))


def is_number(text: str) -> bool:
    return _NUMBER.fullmatch(text) is not None


def unknown_indicator(name: str) -> InvalidArgument:
    return invalid(f"unknown indicator {quote(name)}; supported: {', '.join(supported_names())}")


@dataclass(frozen=True)
class IndicatorRequest:
    """`name` from the catalogue and `values`: one per parameter, in the catalogue's order.

    Construction validates (types, ranges, cross-parameter rules) and normalises (lowercase name,
    14.0 -> 14), raising InvalidArgument on the `indicators` field, so every instance is safe to compute.
    Use `resolve_request` to fill defaults.
    """

    name: str
    values: tuple[ParamValue, ...] = ()
    _spec: IndicatorSpec = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        spec = find_indicator(self.name)
        if spec is None:
            raise unknown_indicator(self.name)
        if len(self.values) != len(spec.params):
            names = ", ".join(p.name for p in spec.params) or "none"
            raise invalid(
                f"{spec.name}: takes {len(spec.params)} parameter(s) ({names}), got {len(self.values)}"
            )
        checked = []
        for param, value in zip(spec.params, self.values, strict=True):
            ok = param.check(value)
            if ok is None:
                raise invalid(f"{spec.name}: {param.requirement()}, got {_show(value)}")
            checked.append(ok)
        object.__setattr__(self, "_spec", spec)  # kept: compute reads it on every call
        object.__setattr__(self, "name", spec.name)
        object.__setattr__(self, "values", tuple(checked))
        for rule in spec.constraints:
            problem = rule(self.params)
            if problem is not None:
                raise invalid(f"{spec.name}: {problem}")

    @property
    def spec(self) -> IndicatorSpec:
        return self._spec

    @property
    def params(self) -> dict[str, ParamValue]:
        """Parameter name -> value, in positional order."""
        return {p.name: v for p, v in zip(self.spec.params, self.values, strict=True)}

    @property
    def key(self) -> str:
        """Canonical text, e.g. 'macd:12,26,9', 'bbands:20,2', 'obv'; parses back to an equal request."""
        if not self.values:
            return self.name
        return f"{self.name}:{','.join(format_value(v) for v in self.values)}"

    def __str__(self) -> str:
        return self.key


def resolve_request(name: str, values: Sequence[str | ParamValue] = ()) -> IndicatorRequest:
    """A request from a name and its leading parameters (numbers or numeric text); defaults fill the rest."""
    spec = find_indicator(name)
    if spec is None:
        raise unknown_indicator(name)
    if len(values) > len(spec.params):
        raise invalid(
            f"{spec.name}: too many parameters (max {len(spec.params)}), got "
            f"{','.join(_show(v) for v in values)}"
        )
    numbers: list[ParamValue] = []
    for param, value in zip(spec.params, values, strict=False):
        if isinstance(value, str):
            text = value.strip()
            if not is_number(text):
                raise invalid(f"{spec.name}: {param.name} must be a number, got {quote(text)}")
            # float() keeps "1.5" from passing as an integer; check() narrows whole values to int.
            number = float(text)
            if param.check(number) is None:  # checked here too, to quote the client's own text
                raise invalid(f"{spec.name}: {param.requirement()}, got {clip(text)}")
            numbers.append(number)
        else:
            numbers.append(value)
    return IndicatorRequest(spec.name, tuple(numbers) + spec.defaults[len(numbers) :])


def _show(value: str | ParamValue) -> str:
    return clip(value.strip()) if isinstance(value, str) else format_value(value)
