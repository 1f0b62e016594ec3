"""A tunable numeric parameter (of an indicator or a strategy): its type, default and range."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from service_runtime.errors import FieldViolation

ParamValue = int | float
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

    def violation(self, value: object, field: str) -> FieldViolation | None:
        """Why `value` is not acceptable, naming `field`, or None when it is."""
        numeric = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if numeric and self.check(value) is not None:  # type: ignore[arg-type]
            return None
        kind = "an integer" if self.type == "int" else "a number"
        return FieldViolation(field, f"must be {kind} in [{self.min}, {self.max}], got {value!r}")

    def coerce(self, value: ParamValue) -> ParamValue:
        # 14.0 arrives as a float through the API's map<string, double>; it means 14.
        return int(value) if self.type == "int" else float(value)


def format_value(value: ParamValue) -> str:
    """Shortest text that reads back to the value: 2.0 -> '2', 2.5 -> '2.5', 14 -> '14'."""
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return str(value)
