"""The ML engine adapter on its own: an ML engine nobody answers for is DependencyUnavailable on
every call (UNAVAILABLE / 503 at the edge), and the history window it asks for holds the bars a
forecast needs after nights and weekends. The real ML engine's answers:
tests/e2e/test_education_live_edge.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from business.education.adapters.ml_engine import MAX_BARS, MlEngineMarket, _span
from service_runtime.errors import DependencyUnavailable
from service_runtime.service_token import ServiceChannel
from service_runtime.signing_keys import SigningKeyStore
from tests.support.ports import free_ports


def _nobody(tmp_path: Path) -> MlEngineMarket:
    keys = SigningKeyStore(tmp_path / "keys", activation_delay_s=0)
    keys.ensure()
    (port,) = free_ports(1)
    channel = ServiceChannel(
        target=f"127.0.0.1:{port}",
        keys=keys,
        subject="service:business",
        issuer="i",
        audience="a",
        timeout_s=2,
    )
    return MlEngineMarket(channel)


async def test_an_unreachable_ml_engine_is_unavailable_on_every_call(tmp_path: Path) -> None:
    market = _nobody(tmp_path)
    at = datetime(2017, 11, 14, 12, tzinfo=UTC)
    calls = [
        market.symbols(),
        market.indicators(),
        market.strategies(),
        market.bars("EURUSD", "1h", start=at, limit=9),
        market.model_answer("EURUSD", "1h", at),
    ]
    try:
        for call in calls:
            with pytest.raises(DependencyUnavailable):
                await call
    finally:
        await market.service.close()


@pytest.mark.parametrize(("timeframe", "bars"), [("1m", 51), ("1h", 51), ("4h", 13), ("1d", 51), ("1w", 6)])
def test_the_history_window_holds_the_bars_and_no_more_than_a_page(timeframe: str, bars: int) -> None:
    seconds = {"1m": 60, "1h": 3600, "4h": 14_400, "1d": 86_400, "1w": 604_800}[timeframe]
    span = _span(timeframe, bars)
    # Twice the bars' own length at least (gaps: nights, weekends, holidays) ...
    assert span >= timedelta(seconds=2 * bars * seconds)
    # ... and a minute-bar window not past one page of GetHistory.
    if timeframe == "1m":
        assert span.total_seconds() / seconds <= MAX_BARS
