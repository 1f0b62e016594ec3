"""The two shapes every part of the config is made of: a typed config and a socket address."""

from __future__ import annotations

from typing import Any


def typed(type_url: str, **fields: Any) -> dict[str, Any]:
    """A `typed_config` (a google.protobuf.Any): its `@type` first, then its fields."""
    return {"@type": type_url, **fields}


def socket_address(host: str, port: int) -> dict[str, Any]:
    return {"socket_address": {"address": host, "port_value": port}}
