"""Indicator arrays as JSON-ready lists: the API writes missing values as explicit nulls."""

from __future__ import annotations

from typing import cast

import numpy as np

from ml_engine.market_data.domain.bars import FloatArray


def json_values(values: FloatArray) -> list[float | None]:
    """Floats with None where there is no value. NaN and ±inf both become None: JSON has neither."""
    array = np.asarray(values, dtype=np.float64)
    out = cast(list[float | None], array.tolist())
    missing = np.flatnonzero(~np.isfinite(array))
    # Patch only the holes: usually just the warm-up, so this stays close to tolist()'s speed.
    for i in missing.tolist():
        out[i] = None
    return out
