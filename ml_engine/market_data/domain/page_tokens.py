"""Opaque page tokens for GetHistory: the symbol, timeframe and the time to continue before."""

from __future__ import annotations

import base64
import json

from ml_engine.market_data.domain.times import in_time_range
from service_runtime.errors import InvalidArgument


def encode(symbol: str, timeframe: str, before: int) -> str:
    raw = json.dumps({"s": symbol, "t": timeframe, "b": before}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _read(token: str) -> tuple[object, object, object]:
    """The token's (symbol, timeframe, before) as it holds them, unchecked; Nones when it is no JSON
    object (a nesting deep enough to exhaust the parser's recursion included)."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, RecursionError):
        return None, None, None
    if not isinstance(data, dict):
        return None, None, None
    return data.get("s"), data.get("t"), data.get("b")


def decode(token: str, symbol: str, timeframe: str) -> int:
    """The `before` time of `token`; INVALID_ARGUMENT if it is malformed or from another query."""
    token_symbol, token_timeframe, before = _read(token)
    # Only a bar time as encode() writes it: json also reads Infinity, 1e400, true, a string.
    if type(before) is not int or not in_time_range(before):
        raise InvalidArgument.field("page_token", "is not a token from a previous response")
    if (token_symbol, token_timeframe) != (symbol, timeframe):
        raise InvalidArgument.field("page_token", "belongs to another symbol or timeframe")
    return before
