"""Recorded predictions: written once however often served, then scored from the bars that followed
with the training label functions (real MariaDB when TEST_MYSQL_HOST is set, and SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, func, inspect, select

from ml_engine.market_data.bar_windows import BarWindows, Series
from ml_engine.market_data.domain.bars import Bars
from ml_engine.market_data.domain.timeframes import TIMEFRAMES
from ml_engine.market_data.importing.importer import import_sample
from ml_engine.predictions.data.prediction_repository import (
    PredictionRecord,
    PredictionStore,
    get_prediction,
    predictions,
)
from ml_engine.predictions.domain.adaptive import AdaptiveConformal, AdaptiveSettings, nonconformity
from ml_engine.predictions.domain.ensemble import HorizonEnsemble
from ml_engine.predictions.domain.features import atr
from ml_engine.predictions.domain.horizons import HORIZONS, STOP_LOSS_ATR, TAKE_PROFIT_ATR
from ml_engine.predictions.domain.labels import barrier_labels, range_labels
from ml_engine.predictions.recording import PredictionRecorder
from ml_engine.predictions.scoring import Scorer
from ml_engine.shared.database import MarketStore


def clear(store: MarketStore) -> None:
    with store.engine.begin() as conn:
        conn.execute(predictions.delete())


def count(store: MarketStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(predictions)).scalar_one())


def record_for(bars: Bars, i: int, horizon: str, atr_value: float, suffix: str = "") -> PredictionRecord:
    h = HORIZONS[horizon]
    close = float(bars.close[i])
    members = json.dumps(
        [
            {
                "name": f"{horizon}_gru",
                "version": "1",
                "file_sha256": "ab",
                "target": "range_high",
                "weight": 1.0,
            }
        ],
        sort_keys=True,
    )
    return PredictionRecord(
        id=f"{horizon}-{i}{suffix}".ljust(64, "0"),
        model=f"{horizon}_ensemble",
        version="v1",
        symbol="EURUSD",
        horizon=horizon,
        timeframe=h.timeframe,
        as_of=int(bars.times[i]),
        lookahead=h.lookahead,
        close=close,
        atr=atr_value,
        predicted_high=close * 1.002,
        predicted_low=close * 0.998,
        tp_long=0.4,
        tp_short=0.3,
        members=members,
        created_at=1_700_000_000,
    )


def manifest() -> dict[str, HorizonEnsemble]:
    return {
        "intraday": HorizonEnsemble(
            "intraday",
            {},
            1.0,
            -1.0,
            0.3,
            0.3,
            True,
            {"coverage": 0.61, "mae_pct": 0.12, "tp_long_hit_rate": 0.29},
        )
    }


def test_same_prediction_is_recorded_once(empty_market_store: MarketStore) -> None:
    clear(empty_market_store)
    import_sample(empty_market_store.engine, "EURUSD")
    bars = (
        BarWindows(empty_market_store.engine)
        .latest(Series("EURUSD", TIMEFRAMES["1h"], TIMEFRAMES["1h"]), 200)
        .bars
    )
    record = record_for(bars, 150, "intraday", 0.001)
    store = PredictionStore(empty_market_store.engine)
    recorder = PredictionRecorder(store)
    for _ in range(5):
        recorder.record(record)
    recorder.flush()
    recorder.record(record)  # remembered: no database round trip
    recorder.flush()
    assert count(empty_market_store) == 1
    assert recorder.written == 1 and recorder.failures == 0
    # A second process (no memory of it) is stopped by the database itself.
    assert PredictionStore(empty_market_store.engine).insert_once(record) is False
    assert count(empty_market_store) == 1
    recorder.close()


def test_store_failure_is_counted_not_raised(tmp_path: Path) -> None:
    unmigrated = create_engine(
        f"sqlite:///{tmp_path / 'empty.db'}"
    )  # no ml_predictions table: every write fails
    bars = Bars.from_columns([0, 3600], [1, 1], [1, 1], [1, 1], [1, 1], [0, 0])
    recorder = PredictionRecorder(PredictionStore(unmigrated))
    recorder.record(record_for(bars, 1, "intraday", 0.001))
    recorder.flush()
    assert recorder.failures == 1 and recorder.written == 0
    recorder.close()
    unmigrated.dispose()


@pytest.mark.parametrize("horizon", ["intraday", "swing"])
def test_scorer_fills_realized_values_from_the_label_functions(
    empty_market_store: MarketStore, horizon: str
) -> None:
    clear(empty_market_store)
    import_sample(empty_market_store.engine, "EURUSD")
    windows = BarWindows(empty_market_store.engine)
    h = HORIZONS[horizon]
    series = Series("EURUSD", TIMEFRAMES["1h"], TIMEFRAMES[h.timeframe])
    bars = windows.latest(series, 10_000).bars
    if not bars.last_complete:
        bars = bars.slice(0, len(bars) - 1)
    atr_values = atr(bars)
    store = PredictionStore(empty_market_store.engine)
    picks = [100, 400, 777]
    for i in picks:
        store.insert_once(record_for(bars, i, horizon, float(atr_values[i])))
    latest = len(bars) - 2  # its lookahead is not in the store yet: stays pending
    store.insert_once(record_for(bars, latest, horizon, float(atr_values[latest])))

    scorer = Scorer(windows, manifest())
    assert scorer.score_once(now=1_800_000_000) == len(picks)
    high_pct, low_pct = range_labels(bars, h.lookahead)
    tp_long, tp_short = barrier_labels(bars, atr_values, h.lookahead, TAKE_PROFIT_ATR, STOP_LOSS_ATR)
    with empty_market_store.engine.connect() as conn:
        for i in picks:
            row = get_prediction(conn, f"{horizon}-{i}".ljust(64, "0"))
            assert row is not None
            close = bars.close[i]
            assert row["realized_at"] == 1_800_000_000
            assert row["realized_high"] == pytest.approx(close * (1 + high_pct[i] / 100), rel=1e-12)
            assert row["realized_low"] == pytest.approx(close * (1 + low_pct[i] / 100), rel=1e-12)
            assert row["tp_long_outcome"] == tp_long[i]
            assert row["tp_short_outcome"] == tp_short[i]
        pending = get_prediction(conn, f"{horizon}-{latest}".ljust(64, "0"))
        assert pending is not None and pending["realized_at"] is None
    assert scorer.score_once() == 0  # nothing new is due

    scores = scorer.scores(symbol="eurusd", horizon=horizon)
    assert len(scores) == 1
    s = scores[0]
    assert (s.row.recorded, s.row.realized) == (4, 3)
    inside = [bool(high_pct[i] <= 0.2 and low_pct[i] >= -0.2) for i in picks]  # predicted range: +-0.2 %
    assert s.row.coverage == pytest.approx(np.mean(inside))
    assert s.row.tp_hit_rate == pytest.approx(np.mean([tp_long[i] for i in picks]))
    assert s.row.mean_tp_probability == pytest.approx(0.4)
    expected_mae = np.mean([(abs(0.2 - high_pct[i]) + abs(-0.2 - low_pct[i])) / 2 for i in picks])
    assert s.row.mae_pct == pytest.approx(expected_mae, rel=1e-9)
    if horizon == "intraday":
        assert (s.card_coverage, s.card_mae_pct, s.card_tp_hit_rate) == (0.61, 0.12, 0.29)
    assert scorer.scores(model=f"{horizon}_gru")[0].row.recorded == 4  # a member name matches too
    assert scorer.scores(model="position_gru") == []


def test_migration_matches_the_table_the_repository_writes(market_store: MarketStore) -> None:
    inspector = inspect(market_store.engine)
    columns = {c["name"]: c for c in inspector.get_columns("ml_predictions")}
    assert set(columns) == set(predictions.c.keys())
    for column in predictions.c:
        assert columns[column.name]["nullable"] == column.nullable, column.name
    indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes("ml_predictions")}
    assert indexes["ix_ml_predictions_pending"] == ["realized_at", "symbol", "timeframe", "as_of"]
    assert indexes["ix_ml_predictions_scores"] == ["model", "symbol", "horizon"]


def eurusd_to_score(market: MarketStore) -> tuple[BarWindows, Bars, np.ndarray, PredictionStore]:
    """EURUSD's sample in an empty store: its windows, its last 1,000 hourly bars, their ATR, and a
    prediction store to record predictions as of those bars."""
    clear(market)
    import_sample(market.engine, "EURUSD")
    windows = BarWindows(market.engine)
    bars = windows.latest(Series("EURUSD", TIMEFRAMES["1h"], TIMEFRAMES["1h"]), 1000).bars
    return windows, bars, atr(bars), PredictionStore(market.engine)


def test_scorer_records_live_scores_and_a_restart_loads_them(empty_market_store: MarketStore) -> None:
    windows, bars, atr_values, store = eurusd_to_score(empty_market_store)
    h = HORIZONS["intraday"]
    picks = [300, 100, 200]  # recorded out of order: live scores are kept by as-of bar
    for i in picks:
        store.insert_once(record_for(bars, i, "intraday", float(atr_values[i])))
    adaptive = AdaptiveConformal(AdaptiveSettings())
    assert Scorer(windows, manifest(), adaptive).score_once() == len(picks)

    high_pct, low_pct = range_labels(bars, h.lookahead)
    expected = []
    for i in sorted(picks):
        close = float(bars.close[i])
        realized_high, realized_low = close * (1 + high_pct[i] / 100), close * (1 + low_pct[i] / 100)
        expected.append(
            nonconformity(realized_high, realized_low, close * 1.002, close * 0.998, float(atr_values[i]))
        )
    key = ("EURUSD", "1h", h.lookahead)
    last = int(bars.times[max(picks)])
    np.testing.assert_allclose(adaptive.scores.known_by(key, last, 10), expected, rtol=1e-9)
    # Only predictions as of bars up to the one asked for.
    np.testing.assert_allclose(
        adaptive.scores.known_by(key, int(bars.times[200]), 10), expected[:2], rtol=1e-9
    )

    restarted = AdaptiveConformal(AdaptiveSettings())
    assert Scorer(windows, manifest(), restarted).load_live_scores() == len(picks)
    np.testing.assert_allclose(restarted.scores.known_by(key, last, 10), expected, rtol=1e-9)


def test_each_engine_learns_the_scores_the_other_engine_realised(empty_market_store: MarketStore) -> None:
    """Two engines on one store (k8s runs two): whichever scores a prediction, both engines'
    adaptive intervals read its score, so they answer the same interval for a bar."""
    windows, bars, atr_values, store = eurusd_to_score(empty_market_store)
    h = HORIZONS["intraday"]
    here, elsewhere = AdaptiveConformal(AdaptiveSettings()), AdaptiveConformal(AdaptiveSettings())
    engine_here = Scorer(windows, manifest(), here)
    engine_elsewhere = Scorer(windows, manifest(), elsewhere)
    assert engine_here.load_live_scores() == engine_elsewhere.load_live_scores() == 0  # both start
    for i in (100, 200):
        store.insert_once(record_for(bars, i, "intraday", float(atr_values[i])))
    assert engine_here.score_once() == 2
    assert engine_elsewhere.score_once() == 0  # nothing left to score: the other engine took them
    key = ("EURUSD", "1h", h.lookahead)
    last = int(bars.times[300])
    assert len(here.scores.known_by(key, last, 10)) == 2
    np.testing.assert_allclose(elsewhere.scores.known_by(key, last, 10), here.scores.known_by(key, last, 10))
    store.insert_once(record_for(bars, 300, "intraday", float(atr_values[300])))
    assert engine_elsewhere.score_once() == 1  # and the other way round
    assert engine_here.score_once() == 0
    np.testing.assert_allclose(here.scores.known_by(key, last, 10), elsewhere.scores.known_by(key, last, 10))
    assert len(here.scores.known_by(key, last, 10)) == 3
