"""Indicator parameters: their declared shape, and how values are checked and written in keys."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

ParamValue = int | float
Params = Mapping[str, ParamValue]
ParamType = Literal["int", "float"]


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: ParamType
    default: ParamValue
    min: ParamValue
    max: ParamValue
    description: str

    def check(self, value: ParamValue) -> ParamValue | None:
        """The value as this parameter's type, or None when it is not one (wrong type or out of range)."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        if not self.min <= value <= self.max:  # also rejects NaN
            return None
        if self.type == "int":
            # 14.0 is accepted as 14: clients may send numbers through a float-typed path.
            return int(value) if float(value).is_integer() else None
        return float(value)

    def requirement(self) -> str:
        kind = "an integer" if self.type == "int" else "a number"
        return f"{self.name} must be {kind} in [{format_value(self.min)}, {format_value(self.max)}]"


def format_value(value: ParamValue) -> str:
    """Shortest text that reads back to the value: 2.0 -> '2', 2.5 -> '2.5', 14 -> '14'."""
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return str(value)


def format_params(params: Params) -> str:
    return ",".join(format_value(v) for v in params.values())
