"""Opaque page tokens for GetHistory: the symbol, timeframe and the time to continue before."""

from __future__ import annotations

import base64
import json

from service_runtime.errors import InvalidArgument


def encode(symbol: str, timeframe: str, before: int) -> str:
    raw = json.dumps({"s": symbol, "t": timeframe, "b": before}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode(token: str, symbol: str, timeframe: str) -> int:
    """The `before` time of `token`; INVALID_ARGUMENT if it is malformed or from another query."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        before = int(data["b"])
        same_query = data["s"] == symbol and data["t"] == timeframe
    except (ValueError, KeyError, TypeError):
        raise InvalidArgument.field("page_token", "is not a token from a previous response") from None
    if not same_query:
        raise InvalidArgument.field("page_token", "belongs to another symbol or timeframe")
    return before
