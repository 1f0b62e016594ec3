"""No lookahead: features at t read bars 0..t only; labels at t read bars t+1..t+L only (on real EURUSD)."""

from __future__ import annotations

import numpy as np
import pytest
from backtesting.test import EURUSD

from ml_engine.market_data.domain.bars import Bars
from ml_engine.predictions.domain.baselines import persistence_range
from ml_engine.predictions.domain.features import FEATURE_WARMUP, atr, compute_features
from ml_engine.predictions.domain.horizons import STOP_LOSS_ATR, TAKE_PROFIT_ATR
from ml_engine.predictions.domain.labels import barrier_labels, range_labels
from tests.ml_engine.frames import bars_from_frame

LOOKAHEAD = 8


@pytest.fixture(scope="module")
def bars() -> Bars:
    return bars_from_frame(EURUSD.iloc[:600])


def _perturb_from(bars: Bars, start: int, factor: float = 1.7) -> Bars:
    """Every bar from `start` on scaled (prices) and its volume changed."""

    def scaled(values: np.ndarray) -> np.ndarray:
        out = values.copy()
        out[start:] *= factor
        return out

    volume = bars.volume.copy()
    volume[start:] = volume[start:] * 3 + 11
    return Bars.from_columns(
        bars.times, scaled(bars.open), scaled(bars.high), scaled(bars.low), scaled(bars.close), volume
    )


@pytest.mark.parametrize("t", [FEATURE_WARMUP, 200, 450, 598])
def test_features_up_to_t_ignore_later_bars(bars: Bars, t: int) -> None:
    before = compute_features(bars)
    after = compute_features(_perturb_from(bars, t + 1))
    np.testing.assert_array_equal(before[: t + 1], after[: t + 1])
    # The perturbation is visible after t, so the check is not vacuous.
    assert not np.allclose(np.nan_to_num(before[t + 1 :]), np.nan_to_num(after[t + 1 :]))


def test_atr_and_persistence_ignore_later_bars(bars: Bars) -> None:
    t = 300
    other = _perturb_from(bars, t + 1)
    np.testing.assert_array_equal(atr(bars)[: t + 1], atr(other)[: t + 1])
    for ours, theirs in zip(
        persistence_range(bars, LOOKAHEAD), persistence_range(other, LOOKAHEAD), strict=True
    ):
        np.testing.assert_array_equal(ours[: t + 1], theirs[: t + 1])


@pytest.mark.parametrize("t", [100, 300])
def test_labels_at_t_read_only_bars_t_plus_1_to_t_plus_l(bars: Bars, t: int) -> None:
    a = atr(bars)

    def labels(b: Bars) -> np.ndarray:
        return np.stack(
            [*range_labels(b, LOOKAHEAD), *barrier_labels(b, a, LOOKAHEAD, TAKE_PROFIT_ATR, STOP_LOSS_ATR)]
        )

    base = labels(bars)
    # Bars after t + L do not change the label at t.
    later = labels(_perturb_from(bars, t + LOOKAHEAD + 1))
    np.testing.assert_array_equal(base[:, t], later[:, t])
    # Bars before t (close[t] and atr[t] fixed) do not either: only t+1..t+L matter.
    earlier = _perturb_from(bars, 0)
    earlier = Bars.from_columns(
        bars.times,
        np.r_[earlier.open[:t], bars.open[t:]],
        np.r_[earlier.high[:t], bars.high[t:]],
        np.r_[earlier.low[:t], bars.low[t:]],
        np.r_[earlier.close[:t], bars.close[t:]],
        bars.volume,
    )
    np.testing.assert_array_equal(base[:, t], labels(earlier)[:, t])
    # ...and a bar inside t+1..t+L does change the range label.
    inside = labels(_perturb_from(bars, t + LOOKAHEAD))
    assert inside[0, t] != base[0, t]
