"""Build coarser bars from finer ones: open first, high max, low min, close last, volume sum.

Buckets are aligned to UTC boundaries of the target timeframe (4h: 00:00, 04:00, ...; 1d: midnight
UTC). Only the last bucket can be incomplete: every earlier one is followed by data.
"""

from __future__ import annotations

import numpy as np

from ml_engine.market_data.domain.bars import Bars
from ml_engine.market_data.domain.timeframes import Timeframe


def resample(bars: Bars, base: Timeframe, target: Timeframe, data_end: int | None = None) -> Bars:
    """Resample `bars` (stored at `base`) to `target`.

    `data_end` is the end of the period the stored data covers (the last stored bar's open time
    plus `base`); the last bucket is complete only if it ends by then. Defaults to the input's end.
    """
    if not base.divides(target):
        raise ValueError(f"{target.name} is not a whole multiple of {base.name}")
    if len(bars) == 0 or base == target:
        return bars
    buckets = bars.times - bars.times % target.seconds
    # Index of the first bar of each bucket; times are ascending, so buckets are too.
    starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
    ends = np.r_[starts[1:], len(bars)] - 1
    covered_until = data_end if data_end is not None else int(bars.times[-1]) + base.seconds
    last_complete = int(buckets[starts[-1]]) + target.seconds <= covered_until
    return Bars.from_columns(
        buckets[starts],
        bars.open[starts],
        np.maximum.reduceat(bars.high, starts),
        np.minimum.reduceat(bars.low, starts),
        bars.close[ends],
        np.add.reduceat(bars.volume, starts),
        last_complete=last_complete,
    )
