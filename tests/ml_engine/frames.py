"""pandas OHLCV frames (backtesting.py's samples and reference runs) as the engine's Bars."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml_engine.market_data.domain.bars import Bars


def bars_from_frame(frame: pd.DataFrame) -> Bars:
    """Bars of a frame indexed by naive UTC times, with Open/High/Low/Close/Volume columns."""
    times = frame.index.values.astype("datetime64[s]").astype(np.int64)
    return Bars.from_columns(
        times, frame["Open"], frame["High"], frame["Low"], frame["Close"], frame["Volume"]
    )
