"""Feature rows to model inputs: window, normalization, NaN after normalization, too few rows."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ml_engine.models.serving.inputs import model_input, model_inputs_all
from service_runtime.errors import FailedPrecondition
from tests.ml_engine.models.serving.tiny_models import F, metadata


def test_tabular_input_is_the_normalized_last_row_with_nan_as_zero() -> None:
    mean, std = list(np.arange(F, dtype=float)), [2.0] * (F - 1) + [0.0]
    meta = replace(metadata("m", 1), norm_mean=mean, norm_std=std)
    rows = np.tile(np.arange(F, dtype=float) + 4.0, (3, 1))
    rows[-1, 0] = np.nan
    x = model_input(meta, rows)
    assert x.shape == (1, F) and x.dtype == np.float32
    assert x[0, 0] == 0.0  # NaN -> 0 after normalization
    assert x[0, 1] == pytest.approx(2.0)  # (5 - 1) / 2
    assert x[0, -1] == pytest.approx(4.0)  # std 0 -> divide by 1
    assert model_inputs_all(meta, rows).shape == (3, F)


def test_sequence_input_is_the_last_window() -> None:
    meta = metadata("s", 1, window=4)
    rows = np.random.default_rng(0).normal(size=(10, F))
    x = model_input(meta, rows)
    assert x.shape == (1, 4, F)
    np.testing.assert_allclose(x[0], rows[-4:], rtol=1e-6)
    windows = model_inputs_all(meta, rows)
    assert windows.shape == (7, 4, F)
    for end in range(4, 11):
        np.testing.assert_array_equal(windows[end - 4], model_input(meta, rows[:end])[0])


def test_too_few_rows_names_the_bars_needed() -> None:
    with pytest.raises(FailedPrecondition, match="at least 4 bars of 1h"):
        model_input(metadata("s", 1, window=4), np.zeros((3, F)))
