"""Walk-forward splits with a purge gap: training rows never see a bar of what they are scored on.

Positions are bar indices of ONE symbol's series (samples never cross symbols; pooled data is split
per symbol by `pooled_folds` and concatenated). Fold k tests on the k-th of `k` equal blocks of the
last `test_fraction` of the series and trains on everything before it (an expanding window), minus
a purge gap of `lookahead + window` bars: a training label reads bars t+1..t+L and a sequence input
reads the W bars up to t, so with t < test_start - gap neither touches a test bar. The validation
part (the last `validation_fraction` of the training part, purged from the fitted rows the same
way) is for early stopping and ensemble weights only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml_engine.market_data.domain.bars import IntArray

DEFAULT_FOLDS = 4
DEFAULT_TEST_FRACTION = 0.4
DEFAULT_VALIDATION_FRACTION = 0.15


@dataclass(frozen=True)
class Fold:
    index: int
    # Bar positions, ascending; train < validation < test with purge gaps between them.
    train: IntArray
    validation: IntArray
    test: IntArray

    @property
    def fitted(self) -> IntArray:
        """Every position the model of this fold may learn from (train + validation)."""
        return np.concatenate([self.train, self.validation])


def purge_gap(lookahead: int, window: int) -> int:
    return lookahead + window


def walk_forward_folds(
    n: int,
    gap: int,
    k: int = DEFAULT_FOLDS,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION,
) -> list[Fold]:
    """`k` expanding-window folds over positions 0..n-1; the last fold's test block ends at n."""
    if k < 1 or not 0.0 < test_fraction < 1.0 or not 0.0 < validation_fraction < 1.0:
        raise ValueError("k >= 1, 0 < test_fraction < 1 and 0 < validation_fraction < 1")
    test_start = round(n * (1.0 - test_fraction))
    bounds = np.linspace(test_start, n, k + 1).round().astype(np.int64)
    folds: list[Fold] = []
    for i in range(k):
        start, stop = int(bounds[i]), int(bounds[i + 1])
        train_end = start - gap
        val_start = train_end - round(train_end * validation_fraction)
        fit_end = val_start - gap
        if fit_end <= 0 or val_start >= train_end or stop <= start:
            raise ValueError(f"series of {n} bars too short for {k} folds with a purge gap of {gap}")
        folds.append(
            Fold(
                index=i,
                train=np.arange(0, fit_end, dtype=np.int64),
                validation=np.arange(val_start, train_end, dtype=np.int64),
                test=np.arange(start, stop, dtype=np.int64),
            )
        )
    return folds


def pooled_folds(
    lengths: list[int],
    gap: int,
    k: int = DEFAULT_FOLDS,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION,
) -> list[Fold]:
    """Folds over series laid end to end (offsets by `lengths`), each split on its own time axis."""
    per_series = [walk_forward_folds(n, gap, k, test_fraction, validation_fraction) for n in lengths]
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    folds: list[Fold] = []
    for i in range(k):
        parts = [(off, series[i]) for off, series in zip(offsets, per_series, strict=True)]
        folds.append(
            Fold(
                index=i,
                train=np.concatenate([f.train + off for off, f in parts]),
                validation=np.concatenate([f.validation + off for off, f in parts]),
                test=np.concatenate([f.test + off for off, f in parts]),
            )
        )
    return folds
