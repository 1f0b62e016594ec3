"""vectorbt as the second reference of `bench.backtest` (installed by `make bench-data` only, from
bench/requirements.txt; never a serving dependency).

The same sma_cross long/short as our engine, written the way vectorbt's own docs write it: its
MA indicator, crossed_above/crossed_below, and Portfolio.from_signals filling at the next bar's
open (signals shifted by one bar, price = open), all cash in whole units, reversing on an
opposite signal. A run includes what ours includes: the trade list and the metrics (total return,
Sharpe, max drawdown, win rate).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from ml_engine.backtests.domain import BacktestResult, ExitReason, Side
from ml_engine.market_data.domain.bars import Bars


def available() -> str | None:
    """vectorbt's version, or None when it is not installed."""
    try:
        import vectorbt as vbt  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        return None
    return str(vbt.__version__)


def _frame(bars: Bars) -> tuple[Any, Any]:
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]

    index = pd.to_datetime(bars.times, unit="s")
    return pd.Series(bars.close, index=index), pd.Series(bars.open, index=index)


def run_sma_cross(bars: Bars, pairs: list[tuple[int, int]], cash: float) -> dict[str, Any]:
    """One vectorbt run over every (fast, slow) pair at once (one column each, vectorbt's own
    broadcasting): trade records and metrics per column."""
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]
    import vectorbt as vbt  # type: ignore[import-untyped, import-not-found, unused-ignore]

    close, open_ = _frame(bars)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast_ma = vbt.MA.run(close, [f for f, _ in pairs], short_name="fast").ma.to_numpy()
        slow_ma = vbt.MA.run(close, [s for _, s in pairs], short_name="slow").ma.to_numpy()
        columns = pd.Index([f"{f}/{s}" for f, s in pairs], name="fast/slow")
        fast_frame = pd.DataFrame(fast_ma, index=close.index, columns=columns)
        slow_frame = pd.DataFrame(slow_ma, index=close.index, columns=columns)
        up = fast_frame.vbt.crossed_above(slow_frame)
        down = fast_frame.vbt.crossed_below(slow_frame)
        portfolio = vbt.Portfolio.from_signals(
            pd.DataFrame(
                np.repeat(close.to_numpy()[:, None], len(pairs), axis=1), index=close.index, columns=columns
            ),
            entries=up.vbt.fshift(1, fill_value=False),
            short_entries=down.vbt.fshift(1, fill_value=False),
            price=np.repeat(open_.to_numpy()[:, None], len(pairs), axis=1),
            size=np.inf,
            size_granularity=1,
            init_cash=cash,
            upon_opposite_entry="reverse",
            freq="1h",
        )
        return {
            "trades": portfolio.trades.values,  # the structured array of trade records
            "total_return": portfolio.total_return(),
            "sharpe": portfolio.sharpe_ratio(),
            "max_drawdown": portfolio.max_drawdown(),
            "win_rate": portfolio.trades.win_rate(),
        }


def timed_run(bars: Bars, pairs: list[tuple[int, int]], cash: float) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    out = run_sma_cross(bars, pairs, cash)
    return out, time.perf_counter() - started


def check_same_trades(bars: Bars, ours: BacktestResult, theirs: dict[str, Any]) -> None:
    """Entry and exit bars, sides, sizes and prices equal. A trade still open at the end exits at
    the last close for us and stays open in vectorbt, valued at the last close: the same figures."""
    records = theirs["trades"]
    if len(records) != len(ours.trades):
        raise SystemExit(f"trade counts differ: ours {len(ours.trades)}, vectorbt {len(records)}")
    entry = np.array([t.entry_bar for t in ours.trades])
    exit_ = np.array([t.exit_bar for t in ours.trades])
    size = np.array([t.size for t in ours.trades], dtype=float)
    short = np.array([t.side == Side.SHORT for t in ours.trades])
    problems = [
        name
        for name, same in (
            ("entry bars", np.array_equal(entry, records["entry_idx"])),
            ("exit bars", np.array_equal(exit_, records["exit_idx"])),
            ("sides", np.array_equal(short, records["direction"] == 1)),
            ("sizes", np.array_equal(size, records["size"])),
            (
                "entry prices",
                np.allclose([t.entry_price for t in ours.trades], records["entry_price"], rtol=1e-12),
            ),
            (
                "exit prices",
                np.allclose([t.exit_price for t in ours.trades], records["exit_price"], rtol=1e-12),
            ),
        )
        if not same
    ]
    last = ours.trades[-1]
    if last.exit_reason == ExitReason.END and last.exit_bar != len(bars) - 1:
        problems.append("the last trade")
    if problems:
        raise SystemExit(f"trades differ from vectorbt: {', '.join(problems)}")
