"""Prediction horizons: each maps to the timeframe its models read and how far ahead they look."""

from __future__ import annotations

from dataclasses import dataclass

from service_runtime.errors import InvalidArgument


@dataclass(frozen=True)
class Horizon:
    name: str
    # Timeframe of the bars the models read (and of the bars the lookahead counts).
    timeframe: str
    # Bars ahead the predicted range and the TP/SL outcome cover.
    lookahead: int
    # Bars of history a sequence model (GRU, Transformer) reads per prediction.
    window: int
    description: str


HORIZONS: dict[str, Horizon] = {
    h.name: h
    for h in (
        Horizon("scalping", "5m", 12, 32, "the next hour, from 5-minute bars"),
        Horizon("intraday", "1h", 8, 32, "the next 8 hours, from hourly bars"),
        Horizon("swing", "4h", 12, 32, "the next 2 days, from 4-hour bars"),
        Horizon("position", "1d", 5, 32, "the next week (5 trading days), from daily bars"),
    )
}

# The seed's signal timeframes; a signal is computed by the horizon whose models read that timeframe.
SIGNAL_TIMEFRAMES: tuple[str, ...] = ("5m", "15m", "1h")

# Barriers of the TP/SL classifier, in multiples of ATR(14) at the as-of bar.
TAKE_PROFIT_ATR = 1.5
STOP_LOSS_ATR = 1.0


def parse_horizons(text: str, field: str = "horizon") -> list[Horizon]:
    """`all` (or empty) is every horizon; otherwise exactly one name, else INVALID_ARGUMENT naming `field`."""
    name = text.strip().lower()
    if name in ("", "all"):
        return list(HORIZONS.values())
    horizon = HORIZONS.get(name)
    if horizon is None:
        raise InvalidArgument.field(field, f"unknown horizon {text!r}; use all, {', '.join(HORIZONS)}")
    return [horizon]


def horizon_for_timeframe(timeframe: str) -> Horizon | None:
    """The horizon whose models read `timeframe` bars, if any."""
    return next((h for h in HORIZONS.values() if h.timeframe == timeframe), None)
