"""The fill kernel against backtesting.py, driven by given desired-position arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from backtesting.test import EURUSD, GOOG
from numba import njit
from numba.core import caching

from ml_engine.backtests.domain import BacktestConfig
from ml_engine.backtests.domain.engine import simulate_positions
from ml_engine.backtests.domain.jit import njit_cached
from ml_engine.backtests.domain.kernel import EXIT_END, EXIT_SIGNAL, EXIT_STOP_LOSS, EXIT_TAKE_PROFIT
from ml_engine.market_data.domain.bars import Bars
from tests.ml_engine.backtests.domain.test_backtest_reference import (
    TargetPositions,
    assert_matches_reference,
    run_reference,
)
from tests.ml_engine.frames import bars_from_frame


def random_desired(
    n: int, seed: int, change_probability: float = 0.04, allow_short: bool = True
) -> np.ndarray:
    """A target position that changes now and then; 0 on bar 0 (backtesting.py never acts on bar 0)."""
    rng = np.random.default_rng(seed)
    desired = np.zeros(n, dtype=np.int8)
    choices = (-1, 0, 1) if allow_short else (0, 1)
    for i in range(1, n):
        desired[i] = rng.choice(choices) if rng.random() < change_probability else desired[i - 1]
    return desired


CASES = [
    pytest.param(EURUSD, BacktestConfig(), 1, id="eurusd-plain"),
    pytest.param(EURUSD, BacktestConfig(commission=0.0002, slippage=0.0001), 2, id="eurusd-costs"),
    pytest.param(
        EURUSD,
        BacktestConfig(
            commission=0.0002, slippage=0.0001, stop_loss=0.002, take_profit=0.003, position_size=0.3
        ),
        3,
        id="eurusd-costs-stops-partial-size",
    ),
    pytest.param(
        GOOG,
        BacktestConfig(commission=0.002, slippage=0.001, stop_loss=0.12, take_profit=0.15),
        4,
        id="goog-costs-stops",
    ),
    pytest.param(
        GOOG,
        BacktestConfig(initial_cash=1_000, position_size=0.5, take_profit=0.08),
        5,
        id="goog-small-account",
    ),
]


@pytest.mark.parametrize(("frame", "config", "seed"), CASES)
def test_trades_and_equity_match_backtesting_py(
    frame: pd.DataFrame, config: BacktestConfig, seed: int
) -> None:
    desired = random_desired(len(frame), seed)
    ours = simulate_positions(bars_from_frame(frame), desired, config)
    stats = run_reference(frame, TargetPositions, config, desired=desired)
    assert len(ours.pnl) >= 15
    assert_matches_reference(frame, ours, stats)
    if config.stop_loss is not None:
        assert np.any(ours.exit_reason == EXIT_STOP_LOSS)
    if config.take_profit is not None:
        assert np.any(ours.exit_reason == EXIT_TAKE_PROFIT)


def test_open_position_at_the_end_closes_at_the_last_close_unlike_backtesting_py() -> None:
    """Our END rule vs backtesting.py's finalize_trades=True (which fills at the last bar's OPEN)."""
    frame = EURUSD.iloc[:300]
    desired = np.zeros(len(frame), dtype=np.int8)
    desired[100:] = 1
    config = BacktestConfig(commission=0.001)
    ours = simulate_positions(bars_from_frame(frame), desired, config)
    stats = run_reference(frame, TargetPositions, config, desired=desired)

    assert list(ours.exit_reason) == [EXIT_END]
    assert ours.entry_bar[0] == 101 and ours.exit_bar[0] == 299
    assert ours.exit_price[0] == frame.Close.iloc[-1]
    assert stats["_trades"].ExitPrice.iloc[0] == frame.Open.iloc[-1]
    units = ours.units[0]
    assert ours.equity[-1] == pytest.approx(
        config.initial_cash
        + units * (frame.Close.iloc[-1] - ours.entry_price[0])
        - config.commission * units * (ours.entry_price[0] + frame.Close.iloc[-1]),
        rel=1e-12,
    )
    assert_matches_reference(frame, ours, stats)  # everything else is the same


def test_change_on_the_last_bar_is_not_traded() -> None:
    frame = EURUSD.iloc[:50]
    desired = np.zeros(len(frame), dtype=np.int8)
    desired[-1] = 1  # backtesting.py's finalize_trades would fill this at the last bar's open
    ours = simulate_positions(bars_from_frame(frame), desired, BacktestConfig())
    assert len(ours.pnl) == 0
    assert np.all(ours.equity == 10_000)


def synthetic_bars(rows: list[tuple[float, float, float, float]]) -> tuple[Bars, pd.DataFrame]:
    times = np.arange(len(rows), dtype=np.int64) * 86400 + 1_600_000_000
    o, h, lo, c = (np.array(col, dtype=float) for col in zip(*rows, strict=True))
    frame = pd.DataFrame(
        {"Open": o, "High": h, "Low": lo, "Close": c, "Volume": np.ones(len(rows))},
        index=pd.to_datetime(times, unit="s"),
    )
    return Bars.from_columns(times, o, h, lo, c, np.ones(len(rows))), frame


def test_stop_counts_first_when_both_levels_are_inside_one_bar() -> None:
    bars, frame = synthetic_bars(
        [
            (100, 101, 99, 100),
            (100, 101, 99, 100),
            (100, 101, 99, 100),
            (100, 112, 88, 100),
            (100, 101, 99, 100),
        ]
    )
    desired = np.array([0, 1, 1, 1, 1], dtype=np.int8)
    config = BacktestConfig(stop_loss=0.1, take_profit=0.1)
    ours = simulate_positions(bars, desired, config)
    assert list(ours.exit_reason) == [EXIT_STOP_LOSS]
    assert ours.entry_bar[0] == 2 and ours.exit_bar[0] == 3
    assert ours.exit_price[0] == pytest.approx(90.0)
    assert_matches_reference(frame, ours, run_reference(frame, TargetPositions, config, desired=desired))


def test_levels_are_checked_on_the_entry_bar_and_gaps_fill_at_the_open() -> None:
    bars, frame = synthetic_bars(
        [
            (100, 101, 99, 100),
            (100, 101, 99, 100),
            (100, 100.5, 94, 96),  # entry at 100, low through the 95 stop on the entry bar itself
            (96, 97, 95, 96),
            (96, 97, 95, 96),
            (100, 101, 99, 100),  # short entry at 100
            (115, 116, 114, 115),  # opens above the 105 stop: fills at the open, 115
            (100, 101, 99, 100),
        ]
    )
    desired = np.array([0, 1, 1, 0, -1, -1, -1, -1], dtype=np.int8)
    config = BacktestConfig(stop_loss=0.05)
    ours = simulate_positions(bars, desired, config)
    assert list(ours.exit_reason) == [EXIT_STOP_LOSS, EXIT_STOP_LOSS]
    assert (ours.entry_bar[0], ours.exit_bar[0], ours.exit_price[0]) == (2, 2, 95.0)
    assert (ours.entry_bar[1], ours.exit_bar[1], ours.exit_price[1]) == (5, 6, 115.0)
    assert_matches_reference(frame, ours, run_reference(frame, TargetPositions, config, desired=desired))


def test_wiped_out_short_stops_the_run_like_backtesting_py() -> None:
    rows = [(100.0, 101.0, 99.0, 100.0)] * 3 + [(150.0, 160.0, 140.0, 150.0), (210.0, 220.0, 200.0, 210.0)]
    rows += [(100.0, 101.0, 99.0, 100.0)] * 3
    bars, frame = synthetic_bars(rows)
    desired = np.array([0, -1, -1, -1, -1, 0, 1, 1], dtype=np.int8)
    ours = simulate_positions(bars, desired, BacktestConfig())
    assert list(ours.exit_reason) == [EXIT_END]
    assert ours.exit_bar[0] == 4 and ours.exit_price[0] == 210.0
    assert np.all(ours.equity[4:] == 0)
    assert_matches_reference(
        frame, ours, run_reference(frame, TargetPositions, BacktestConfig(), desired=desired)
    )


def test_entry_that_cannot_buy_one_unit_is_skipped() -> None:
    bars, _ = synthetic_bars([(100, 101, 99, 100)] * 4)
    desired = np.array([0, 1, 1, 1], dtype=np.int8)
    ours = simulate_positions(bars, desired, BacktestConfig(initial_cash=99.0))
    assert len(ours.pnl) == 0
    assert np.all(ours.equity == 99.0)


def test_reversal_closes_at_the_open_then_opens_the_other_side() -> None:
    bars, _ = synthetic_bars(
        [(100, 101, 99, 100), (100, 101, 99, 100), (110, 111, 109, 110), (120, 121, 119, 120)]
    )
    desired = np.array([0, 1, -1, -1], dtype=np.int8)  # long from bar 2's open, short from bar 3's
    ours = simulate_positions(bars, desired, BacktestConfig(initial_cash=1_000))
    assert list(ours.exit_reason) == [EXIT_SIGNAL, EXIT_END]
    # All in is backtesting.py's (1 - eps) of equity: 1000 * (1 - eps) // 110 is 9 units.
    assert list(ours.units) == [9.0, -9.0]  # then 1090 * (1 - eps) // 120
    assert list(ours.entry_price) == [110.0, 120.0] and list(ours.exit_price) == [120.0, 120.0]
    assert list(ours.entry_bar) == [2, 3] and list(ours.exit_bar) == [3, 3]
    assert ours.equity[-1] == 1_000.0 + 9 * (120 - 110)


def _double(x: float) -> float:
    return 2 * x


def test_jit_without_a_writable_cache_still_compiles(monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only filesystem (the ml_engine pod) must not break the import: numba's cache=True raises
    there."""

    def read_only(self: object) -> None:
        raise OSError("read-only file system")

    monkeypatch.setattr(caching._CacheLocator, "ensure_cache_path", read_only)
    with pytest.raises(RuntimeError, match="no locator"):
        njit(cache=True)(_double)
    assert njit_cached(_double)(2.0) == 4.0
