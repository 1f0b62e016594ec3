"""The issue's check, on replayed data: predictions served as of every other bar the shipped intraday
models never saw (after their training data), each scored by the live scorer as soon as its lookahead
has passed, the way a running engine records and scores them, against the served intervals.

With adaptive intervals (domain/adaptive.py, the default settings) each prediction's quantile is the
shipped one blended with the conformal quantile of the live scores known at its as-of bar. Measured
with version 2 (258 scored; the print below): the 80% interval held 80.2% of the time (the shipped
quantile alone: 71.7%; the card's last walk-forward fold, the same stretch: 73.0%), 50%: 46.5%
(37.6%), 90%: 92.2% (88.8%), 95%: 95.3% (93.8%); the 80% interval is still narrower than the ATR
baseline's at the same coverage. Early 2018 moved more per ATR than the validation block the shipped
quantile was fit on; the live scores widen the interval to match."""

from __future__ import annotations

from datetime import datetime

import numpy as np
from sqlalchemy import select

from ml_engine.market_data.bar_windows import BarWindows
from ml_engine.market_data.importing.importer import import_sample
from ml_engine.models.serving.registry import ModelRegistry
from ml_engine.predictions.data.prediction_repository import PredictionStore, predictions
from ml_engine.predictions.domain.adaptive import AdaptiveConformal, AdaptiveSettings
from ml_engine.predictions.domain.combine import HorizonForecast
from ml_engine.predictions.domain.ensemble import BASELINE_MEMBER
from ml_engine.predictions.domain.horizons import parse_horizons
from ml_engine.predictions.domain.intervals import COVERAGES, interval_pct
from ml_engine.predictions.forecaster import Forecaster
from ml_engine.predictions.recording import PredictionRecorder
from ml_engine.predictions.scoring import Scorer
from ml_engine.shared.database import MarketStore
from ml_engine.training.data import sample_bars
from tests.ml_engine.predictions.support import manifest

# One stretch of ~260 overlapping 8-bar windows (about 30 independent ones) after a shift: the adaptive
# 80% interval within 5 points of nominal (the shipped quantile alone misses by 8.3 points here).
ADAPTIVE_TOLERANCE = 0.05


def _coverage(forecasts: list[HorizonForecast], realized: dict[int, tuple[float, float]], c: float) -> dict:
    """Served (adaptive) and shipped-quantile coverage and mean widths at nominal `c`."""
    served, shipped, width, base_width = [], [], [], []
    for f in forecasts:
        interval = f.interval(c)
        assert interval is not None
        high_pct, low_pct = (100 * (v / f.close - 1) for v in realized[f.as_of])
        served.append(interval.low_pct <= low_pct and high_pct <= interval.high_pct)
        upper, lower = interval_pct(
            f.predicted_high_pct, f.predicted_low_pct, f.atr / f.close, interval.shipped_quantile
        )
        shipped.append(lower <= low_pct and high_pct <= upper)
        width.append(interval.high_pct - interval.low_pct)
        base_width.append(interval.baseline_width_pct)
    return {
        "served": float(np.mean(served)),
        "shipped": float(np.mean(shipped)),
        "width": float(np.mean(width)),
        "baseline_width": float(np.mean(base_width)),
    }


async def test_replayed_predictions_hold_the_80_percent_interval(
    empty_market_store: MarketStore, registry: ModelRegistry
) -> None:
    import_sample(empty_market_store.engine, "EURUSD")
    with empty_market_store.engine.begin() as conn:
        conn.execute(predictions.delete())
    windows = BarWindows(empty_market_store.engine)
    recorder = PredictionRecorder(PredictionStore(empty_market_store.engine))
    adaptive = AdaptiveConformal(AdaptiveSettings())
    forecaster = Forecaster(windows, registry, manifest(), recorder, adaptive=adaptive)
    scorer = Scorer(windows, manifest(), adaptive)
    ensemble = manifest()["intraday"]
    models = {
        m.model for ms in ensemble.members.values() for m in ms if m.weight > 0 and m.model != BASELINE_MEMBER
    }
    trained_until = max(
        int(datetime.fromisoformat(registry.metadata(n).training.end.replace("Z", "+00:00")).timestamp())
        for n in models
    )
    bars = sample_bars("EURUSD", "1h")
    unseen = bars.times[bars.times > trained_until + 8 * 3600]
    intraday = parse_horizons("intraday")
    served: list[HorizonForecast] = []
    try:
        for as_of in unseen[:-9:2]:  # every other unseen bar whose lookahead is stored
            [forecast] = (await forecaster.predict("EURUSD", intraday, int(as_of) + 3600)).predictions
            served.append(forecast)
            recorder.flush()
            # The whole sample is stored, so every recorded prediction is due at once: the no-lookahead
            # rule (scores of predictions as of the L-th bar before or earlier) is what keeps later
            # predictions from reading outcomes they would not have had.
            scorer.score_once()
    finally:
        recorder.close()
    [score] = scorer.scores(horizon="intraday")
    row = score.row
    assert row.interval_realized == row.realized == len(served) >= 200
    assert row.nominal_coverage == 0.8
    assert abs(row.interval_coverage - 0.8) <= ADAPTIVE_TOLERANCE, row
    assert score.card_interval_coverage == manifest()["intraday"].heldout_metrics["interval_coverage_0.8"]
    # Coverage at a narrower width than the ATR baseline's interval of the same coverage.
    assert 0 < row.interval_width_pct < score.baseline_interval_width_pct
    # Most predictions were adapted; the first ones (too few scores known yet) serve the shipped quantile.
    adapted = [f.interval().live_scores for f in served]  # type: ignore[union-attr]
    assert adapted[0] == 0 and sum(n > 0 for n in adapted) > 0.8 * len(served)
    with empty_market_store.engine.connect() as conn:
        realized = {
            int(r.as_of): (float(r.realized_high), float(r.realized_low))
            for r in conn.execute(
                select(predictions.c.as_of, predictions.c.realized_high, predictions.c.realized_low)
            )
        }
    figures = {c: _coverage(served, realized, c) for c in COVERAGES}
    assert figures[0.8]["served"] == row.interval_coverage
    # Closer to nominal than the shipped quantile alone on this stretch.
    assert abs(figures[0.8]["served"] - 0.8) < abs(figures[0.8]["shipped"] - 0.8)
    print(
        f"replayed: {row.realized} scored; "
        + "; ".join(
            f"{c:.0%}: held {f['served']:.3f} (shipped q {f['shipped']:.3f}), width {f['width']:.4f}% "
            f"vs ATR baseline {f['baseline_width']:.4f}%"
            for c, f in figures.items()
        )
    )
