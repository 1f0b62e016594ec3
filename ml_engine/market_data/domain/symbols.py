"""The symbol catalogue entry and the rules for symbol names."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from zoneinfo import available_timezones

from service_runtime.errors import FieldViolation, InvalidArgument

ASSET_CLASSES = ("fx", "equity", "crypto", "commodity", "index")
_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9._\-/]{0,31}$")


def normalize_symbol(text: str, field: str = "symbol") -> str:
    symbol = text.strip().upper()
    if not symbol:
        raise InvalidArgument.field(field, "is required")
    if not _SYMBOL.match(symbol):
        raise InvalidArgument.field(
            field, f"{text[:40]!r} is not a symbol: 1-32 letters, digits, '.', '_', '-' or '/'"
        )
    return symbol


@dataclass(frozen=True)
class SymbolInfo:
    symbol: str
    name: str
    asset_class: str
    tick_size: float
    quote_currency: str
    timezone: str

    def validate(self, field: str = "info") -> SymbolInfo:
        """Raise INVALID_ARGUMENT naming every bad field (`info.tick_size`, ...)."""
        problems: list[FieldViolation] = []
        if not 1 <= len(self.name) <= 128:
            problems.append(FieldViolation(f"{field}.name", "1 to 128 characters"))
        if self.asset_class not in ASSET_CLASSES:
            problems.append(FieldViolation(f"{field}.asset_class", f"one of {', '.join(ASSET_CLASSES)}"))
        if not (math.isfinite(self.tick_size) and self.tick_size > 0):
            problems.append(FieldViolation(f"{field}.tick_size", "must be a positive finite number"))
        if not re.fullmatch(r"[A-Z]{3}", self.quote_currency):
            problems.append(FieldViolation(f"{field}.quote_currency", "a 3-letter ISO 4217 code, e.g. USD"))
        if self.timezone not in _zones():
            problems.append(FieldViolation(f"{field}.timezone", "an IANA time zone, e.g. America/New_York"))
        if problems:
            raise InvalidArgument(*problems)
        return self


def _zones() -> set[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones() | {"UTC"}
    return _ZONES


_ZONES: set[str] | None = None
