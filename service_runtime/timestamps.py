"""google.protobuf.Timestamp, one helper per direction, for every service's handlers.

Domain code keeps plain datetimes or epoch seconds; handlers translate at the edge of the service.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp


def to_timestamp(moment: datetime | float) -> Timestamp:
    """A Timestamp of an aware datetime or of epoch seconds (fractions kept to the nanosecond)."""
    stamp = Timestamp()
    if isinstance(moment, datetime):
        stamp.FromDatetime(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    else:
        stamp.FromNanoseconds(round(moment * 1e9))
    return stamp


def to_optional_timestamp(moment: datetime | float | None) -> Timestamp | None:
    """to_timestamp, or None (the message field stays unset) when there is no moment."""
    return None if moment is None else to_timestamp(moment)


def from_timestamp(stamp: Timestamp) -> datetime:
    """The aware UTC datetime of a Timestamp."""
    return stamp.ToDatetime(tzinfo=UTC)


def now_timestamp() -> Timestamp:
    return to_timestamp(time.time())
