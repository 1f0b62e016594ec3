"""Checks of what users send, each naming the field it refuses."""

from __future__ import annotations

import math

from business.alerts.domain.ports import SymbolCatalogue
from service_runtime.errors import InvalidArgument

TIMEFRAMES = ("5m", "15m", "1h")
DEFAULT_TIMEFRAME = "1h"
MAX_NAME = 100
MAX_SYMBOLS = 50


def name(field: str, value: str) -> str:
    text = value.strip()
    if not 1 <= len(text) <= MAX_NAME:
        raise InvalidArgument.field(field, f"must be 1 to {MAX_NAME} characters")
    return text


def timeframe(field: str, value: str) -> str:
    text = value.strip() or DEFAULT_TIMEFRAME
    if text not in TIMEFRAMES:
        raise InvalidArgument.field(field, f"must be one of {', '.join(TIMEFRAMES)}")
    return text


def finite(field: str, value: float, low: float, high: float) -> float:
    if not math.isfinite(value) or not low <= value <= high:
        raise InvalidArgument.field(field, f"must be between {low:g} and {high:g}")
    return value


async def known_symbol(catalogue: SymbolCatalogue, field: str, value: str) -> str:
    symbol = value.strip().upper()
    if not symbol:
        raise InvalidArgument.field(field, "is required")
    if symbol not in await catalogue.symbols():
        raise InvalidArgument.field(field, f"unknown symbol {symbol!r}: see GET /api/symbols")
    return symbol


async def known_symbols(catalogue: SymbolCatalogue, field: str, values: list[str]) -> tuple[str, ...]:
    if len(values) > MAX_SYMBOLS:
        raise InvalidArgument.field(field, f"at most {MAX_SYMBOLS} symbols")
    symbols: list[str] = []
    for i, value in enumerate(values):
        symbol = await known_symbol(catalogue, f"{field}[{i}]", value)
        if symbol not in symbols:
            symbols.append(symbol)
    return tuple(symbols)
