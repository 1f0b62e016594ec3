"""Evaluating alert rules on a new bar: pure, once per bar for every rule of the feed.

Every rule fires on a transition (once per crossing): its condition holds on this bar and did
not on the previous one. The conditions read only the feed (this bar and the state the previous
bar left), so the previous bar's outcome of any rule can be recomputed from the stored feed state:
- SIGNAL: the signal's action is the wanted side with confidence >= min_confidence (a flip from
  BUY to SELL is a new turn for a rule on either side).
- PRICE_CROSS: the close moved from one side of the level to the other (UP: from below to at or
  above; DOWN: from above to at or below).
- RANGE_EXIT: the bar's high or low left the range predicted at the previous bar.
The first bar a feed ever sees only sets the baseline for crossings and range exits; a SIGNAL rule
fires on it when its condition holds (nothing says it held before).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from business.alerts.domain.entities import (
    Alert,
    AlertKind,
    AlertRule,
    CrossDirection,
    FeedBar,
    FeedState,
    SignalSide,
)

SIDES = {SignalSide.BUY: ("buy",), SignalSide.SELL: ("sell",), SignalSide.ANY: ("buy", "sell")}


def signal_holds(rule: AlertRule, action: str, confidence: float) -> bool:
    assert rule.side is not None
    return action in SIDES[rule.side] and confidence >= rule.min_confidence


def crossed(rule: AlertRule, before: float, now: float) -> str | None:
    """ "above" / "below" when the close crossed the rule's level in its direction, else None."""
    level = rule.level
    if before < level <= now and rule.direction in (CrossDirection.UP, CrossDirection.ANY):
        return "above"
    if before > level >= now and rule.direction in (CrossDirection.DOWN, CrossDirection.ANY):
        return "below"
    return None


def left_range(previous: FeedState | None, bar: FeedBar) -> bool:
    """Whether the bar's high or low is outside the range predicted at the previous bar."""
    if previous is None or previous.predicted_high <= 0 or previous.predicted_low <= 0:
        return False
    return bar.high > previous.predicted_high or bar.low < previous.predicted_low


def next_state(previous: FeedState | None, bar: FeedBar) -> FeedState:
    return FeedState(
        symbol=bar.symbol,
        timeframe=bar.timeframe,
        bar_time=bar.bar_time,
        close=bar.close,
        action=bar.action,
        confidence=bar.confidence,
        predicted_high=bar.predicted_high,
        predicted_low=bar.predicted_low,
        out_of_range=left_range(previous, bar),
    )


def fires(rule: AlertRule, previous: FeedState | None, bar: FeedBar, state: FeedState) -> str | None:
    """The alert's message when `rule` fires on `bar` (after `previous`), else None."""
    if rule.kind is AlertKind.SIGNAL:
        now = signal_holds(rule, bar.action, bar.confidence)
        # A turn: BUY -> SELL is one for a rule on either side; BUY -> BUY is none.
        before = (
            previous is not None
            and previous.action == bar.action
            and signal_holds(rule, previous.action, previous.confidence)
        )
        if now and not before:
            return (
                f"{bar.symbol} {bar.timeframe} signal turned {bar.action.upper()} "
                f"with confidence {bar.confidence:.0%} (close {bar.close:g})"
            )
        return None
    if rule.kind is AlertKind.PRICE_CROSS:
        side = crossed(rule, previous.close, bar.close) if previous is not None else None
        return f"{bar.symbol} crossed {side} {rule.level:g} (close {bar.close:g})" if side else None
    if state.out_of_range and not (previous is not None and previous.out_of_range):
        assert previous is not None
        return (
            f"{bar.symbol} {bar.timeframe} left the predicted range "
            f"{previous.predicted_low:g}-{previous.predicted_high:g} (high {bar.high:g}, low {bar.low:g})"
        )
    return None


def evaluate(
    rules: Iterable[AlertRule], previous: FeedState | None, bar: FeedBar, now: datetime
) -> tuple[FeedState, list[Alert]]:
    """The feed's state after `bar`, and the alerts it fires (at most one per rule)."""
    state = next_state(previous, bar)
    alerts: list[Alert] = []
    for rule in rules:
        message = fires(rule, previous, bar, state)
        if message is not None:
            alerts.append(
                Alert(
                    id=str(uuid.uuid4()),
                    rule_id=rule.id,
                    user_id=rule.user_id,
                    symbol=bar.symbol,
                    timeframe=bar.timeframe,
                    kind=rule.kind,
                    bar_time=bar.bar_time,
                    close=bar.close,
                    message=message,
                    fired_at=now,
                    notify_email=rule.notify_email,
                )
            )
    return state, alerts
