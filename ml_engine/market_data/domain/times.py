"""Times users send (RFC 3339, plain dates and date-times in UTC, epoch seconds) and the one form
messages show them in."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from service_runtime.errors import InvalidArgument

_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")


def parse_time(text: str) -> int | None:
    """Epoch seconds (UTC) of `text`, or None when it is not a time we understand.

    Times without an offset are UTC; a fractional second is dropped only when zero.
    """
    value = text.strip()
    if not value:
        return None
    if value.lstrip("-").isdigit():
        return int(value)
    for fmt in _FORMATS:
        try:
            return int(datetime.strptime(value, fmt).replace(tzinfo=UTC).timestamp())
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def parse_request_time(text: str, field: str) -> int | None:
    """Like parse_time for a request field: empty → None, unparseable → INVALID_ARGUMENT."""
    if not text.strip():
        return None
    ts = parse_time(text)
    if ts is None:
        raise InvalidArgument.field(field, f"{text!r} is not a time; use RFC 3339 or YYYY-MM-DD (UTC)")
    return ts


def format_time(seconds: float) -> str:
    """Epoch seconds as `2018-01-09T00:00:00Z`, the form messages show to people."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
