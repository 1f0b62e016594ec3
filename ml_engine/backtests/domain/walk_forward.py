"""Walk-forward folds: the bars cut into N consecutive, non-overlapping pieces of (nearly) equal length.

Each fold is backtested on its own, as if the API had been asked for just that range: indicators
start from the fold's first bar (so each fold has its own warm-up), the account starts flat with the
initial cash, and a position still open at the fold's last bar is closed there. The strategies have no
fitted state, so the folds measure how stable the same parameters are across periods.
"""

from __future__ import annotations

from itertools import pairwise

from ml_engine.market_data.domain.bars import Bars


def fold_bounds(n_bars: int, splits: int) -> list[tuple[int, int]]:
    """[start, stop) bar ranges of `splits` consecutive folds; earlier folds are never longer."""
    edges = [n_bars * k // splits for k in range(splits + 1)]
    return list(pairwise(edges))


def folds(bars: Bars, splits: int) -> list[Bars]:
    return [bars.slice(start, stop) for start, stop in fold_bounds(len(bars), splits)]
