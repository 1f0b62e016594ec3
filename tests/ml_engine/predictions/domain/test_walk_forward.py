"""Walk-forward folds: expanding, purged, test blocks never trained on."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ml_engine.predictions.domain.walk_forward import pooled_folds, purge_gap, walk_forward_folds


@pytest.mark.parametrize(("n", "gap"), [(5000, 40), (1292, 44), (2148, 37)])
def test_purge_gap_separates_train_validation_and_test(n: int, gap: int) -> None:
    folds = walk_forward_folds(n, gap)
    assert len(folds) == 4
    for fold in folds:
        test_start = int(fold.test.min())
        # No training or validation position within `gap` bars before the test block.
        assert fold.train.max() < test_start - gap
        assert fold.validation.max() < test_start - gap + 1
        assert test_start - fold.validation.max() > gap
        # Validation is purged from the fitted rows the same way.
        assert fold.validation.min() - fold.train.max() > gap
        # Test blocks are never trained on (and come after everything fitted).
        assert not np.intersect1d(fold.fitted, fold.test).size
        assert fold.fitted.max() < test_start


def test_folds_expand_and_tile_the_test_region() -> None:
    folds = walk_forward_folds(1000, 20)
    tests = np.concatenate([f.test for f in folds])
    assert len(np.unique(tests)) == len(tests)  # test blocks do not overlap
    assert tests.max() == 999 and np.all(np.diff(tests) == 1)
    assert all(a.train.max() < b.train.max() for a, b in itertools.pairwise(folds))
    # Validation is about the last 15 % of each training part.
    for f in folds:
        part = f.test.min() - 20
        assert abs(len(f.validation) - 0.15 * part) <= 1


def test_purge_gap_is_lookahead_plus_window() -> None:
    assert purge_gap(8, 32) == 40


def test_pooled_folds_split_each_series_on_its_own_axis() -> None:
    lengths = [600, 400]
    gap = 10
    folds = pooled_folds(lengths, gap)
    for fold in folds:
        for lo, hi in ((0, 600), (600, 1000)):
            own = lambda rows, lo=lo, hi=hi: rows[(rows >= lo) & (rows < hi)]  # noqa: E731
            test, fitted = own(fold.test), own(fold.fitted)
            assert len(test) > 0
            assert fitted.max() < test.min() - gap
    # The last fold's tests end at each series' end.
    assert {599, 999} <= set(folds[-1].test.tolist())


def test_too_short_a_series_is_refused() -> None:
    with pytest.raises(ValueError, match="too short"):
        walk_forward_folds(60, 40)
