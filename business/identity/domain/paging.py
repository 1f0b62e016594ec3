"""Opaque page tokens: base64url JSON of the last row's sort key. Opaque to clients, checked
on the way back in (a tampered token is bad input, not a server error)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from service_runtime.errors import InvalidArgument


def page_size(value: int, *, default: int, maximum: int, field: str = "page_size") -> int:
    if value == 0:
        return default
    if value < 1 or value > maximum:
        raise InvalidArgument.field(field, f"must be between 1 and {maximum}")
    return value


def encode(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(token: str, field: str = "page_token") -> dict[str, Any] | None:
    if not token:
        return None
    if len(token) > 512:
        raise InvalidArgument.field(field, "is not a token this API issued")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidArgument.field(field, "is not a token this API issued") from None
    if not isinstance(key, dict):
        raise InvalidArgument.field(field, "is not a token this API issued")
    return key
