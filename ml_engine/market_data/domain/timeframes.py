"""Timeframes the platform knows, as fixed durations aligned to UTC boundaries."""

from __future__ import annotations

from dataclasses import dataclass

from service_runtime.errors import InvalidArgument


@dataclass(frozen=True, order=True)
class Timeframe:
    seconds: int
    name: str

    def align_down(self, ts: int) -> int:
        """Start of the bucket holding `ts` (epoch seconds, UTC)."""
        return ts - ts % self.seconds

    def align_up(self, ts: int) -> int:
        return -(-ts // self.seconds) * self.seconds

    def on_grid(self, ts: int) -> bool:
        return ts % self.seconds == 0

    def divides(self, other: Timeframe) -> bool:
        """True when bars of `other` can be built from bars of this timeframe."""
        return other.seconds % self.seconds == 0


TIMEFRAMES: dict[str, Timeframe] = {
    tf.name: tf
    for tf in (
        Timeframe(60, "1m"),
        Timeframe(5 * 60, "5m"),
        Timeframe(15 * 60, "15m"),
        Timeframe(30 * 60, "30m"),
        Timeframe(3600, "1h"),
        Timeframe(4 * 3600, "4h"),
        Timeframe(86400, "1d"),
    )
}


def parse_timeframe(name: str, field: str = "timeframe") -> Timeframe:
    """The timeframe called `name`, or INVALID_ARGUMENT naming `field`."""
    tf = TIMEFRAMES.get(name.strip().lower())
    if tf is None:
        raise InvalidArgument.field(field, f"unknown timeframe {name!r}; use one of {', '.join(TIMEFRAMES)}")
    return tf
