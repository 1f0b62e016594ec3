"""Shared by the indicator tests (no tests here): backtesting.py's bundled EURUSD (hourly) and GOOG (daily)
as Bars."""

from __future__ import annotations

import numpy as np
from backtesting.test import EURUSD, GOOG

from ml_engine.market_data.domain.bars import FloatArray
from tests.ml_engine.frames import bars_from_frame

DATASETS = {"EURUSD": bars_from_frame(EURUSD), "GOOG": bars_from_frame(GOOG)}


def leading_nans(values: FloatArray) -> int:
    """How many values at the start are NaN (all of them when none is set)."""
    present = np.flatnonzero(~np.isnan(values))
    return int(present[0]) if len(present) else len(values)
