"""Times users send (RFC 3339, plain dates and date-times in UTC, epoch seconds) and the one form
messages show them in.

Every time taken in is inside what a google.protobuf.Timestamp holds (0001-01-01 to 9999-12-31):
a bar or a window outside it could be stored (BIGINT holds far more) but never answered, and a
number past BIGINT overflows the database driver.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from service_runtime.errors import InvalidArgument

_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")
# ASCII digits only: str.isdigit() takes "²", which int() then refuses.
_EPOCH_SECONDS = re.compile(r"-?[0-9]+")
# 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z in epoch seconds: the Timestamp range.
MIN_TIME, MAX_TIME = -62_135_596_800, 253_402_300_799
TIME_RANGE = "between 0001-01-01 and 9999-12-31"


def in_time_range(seconds: int) -> bool:
    return MIN_TIME <= seconds <= MAX_TIME


def _parse_any(value: str) -> int | None:
    """Epoch seconds of the stripped, non-empty `value`, whatever their size; None when it is not
    a time we understand."""
    if not value.isascii():
        return None
    if _EPOCH_SECONDS.fullmatch(value):
        negative = value.startswith("-")
        digits = value.lstrip("-").lstrip("0") or "0"
        if len(digits) > len(str(MAX_TIME)):
            # Out of range whatever the digits; int() refuses thousands of them anyway.
            return MIN_TIME - 1 if negative else MAX_TIME + 1
        return -int(digits) if negative else int(digits)
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


def parse_time(text: str) -> int | None:
    """Epoch seconds (UTC) of `text`, or None when it is not a time we understand or lies outside
    the Timestamp range (`time_problem` says which).

    Times without an offset are UTC; a fractional second is dropped only when zero.
    """
    value = text.strip()
    seconds = _parse_any(value) if value else None
    return seconds if seconds is not None and in_time_range(seconds) else None


def time_problem(text: str) -> str:
    """Why parse_time refused `text`, for a message that quotes it."""
    value = text.strip()
    if value and _parse_any(value) is not None:
        return f"is not {TIME_RANGE}"
    return "is not a time"


def parse_request_time(text: str, field: str) -> int | None:
    """Like parse_time for a request field: empty → None, unparseable or out of range →
    INVALID_ARGUMENT naming `field`."""
    if not text.strip():
        return None
    ts = parse_time(text)
    if ts is None:
        raise InvalidArgument.field(
            field, f"{text[:40]!r} {time_problem(text)}; use RFC 3339 or YYYY-MM-DD (UTC)"
        )
    return ts


def format_time(seconds: float) -> str:
    """Epoch seconds as `2018-01-09T00:00:00Z`, the form messages show to people."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
