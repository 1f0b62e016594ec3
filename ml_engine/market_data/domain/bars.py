"""A column-oriented series of OHLCV bars: what indicators, backtests and the API work on."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Bars:
    """Bars in ascending time order. `times` are bar open times in epoch seconds (UTC).

    `last_complete` is False when the last bar's period has not ended in the data yet
    (a resampled bar still being built).
    """

    times: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    last_complete: bool = field(default=True)

    def __post_init__(self) -> None:
        n = len(self.times)
        for name in ("open", "high", "low", "close", "volume"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"column {name} has {len(getattr(self, name))} values, times has {n}")

    def __len__(self) -> int:
        return len(self.times)

    @classmethod
    def empty(cls) -> Bars:
        f = np.empty(0, dtype=np.float64)
        return cls(np.empty(0, dtype=np.int64), f, f, f, f, f)

    @classmethod
    def from_columns(
        cls,
        times: npt.ArrayLike,
        open_: npt.ArrayLike,
        high: npt.ArrayLike,
        low: npt.ArrayLike,
        close: npt.ArrayLike,
        volume: npt.ArrayLike,
        last_complete: bool = True,
    ) -> Bars:
        def col(values: npt.ArrayLike) -> FloatArray:
            return np.ascontiguousarray(values, dtype=np.float64)

        return cls(
            np.ascontiguousarray(times, dtype=np.int64),
            col(open_),
            col(high),
            col(low),
            col(close),
            col(volume),
            last_complete,
        )

    def slice(self, start: int, stop: int | None = None) -> Bars:
        """Bars [start:stop]; the last bar keeps its completeness only if it stays last."""
        stop_idx = len(self) if stop is None else stop
        keeps_last = stop_idx >= len(self)
        return Bars(
            self.times[start:stop_idx],
            self.open[start:stop_idx],
            self.high[start:stop_idx],
            self.low[start:stop_idx],
            self.close[start:stop_idx],
            self.volume[start:stop_idx],
            self.last_complete if keeps_last else True,
        )
