"""Score recorded predictions against what the market then did, and report live figures.

A prediction as of bar t of a horizon with lookahead L is due once the store holds bars t+1..t+L
(complete). Its realized high/low and TP/SL outcomes are the training labels of that bar, computed
by the same functions (`labels.range_labels`, `labels.barrier_labels`) with the ATR the prediction's
levels used, so live scores and the model card measure the same thing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np

from ml_engine.market_data.bar_windows import BarWindows, Series
from ml_engine.market_data.data import repository as market_repository
from ml_engine.market_data.domain.timeframes import TIMEFRAMES
from ml_engine.predictions.data import prediction_repository as repo
from ml_engine.predictions.domain.adaptive import AdaptiveConformal, nonconformity
from ml_engine.predictions.domain.ensemble import HorizonEnsemble
from ml_engine.predictions.domain.horizons import STOP_LOSS_ATR, TAKE_PROFIT_ATR
from ml_engine.predictions.domain.intervals import coverage_key
from ml_engine.predictions.domain.labels import barrier_labels, range_labels
from service_runtime.errors import InvalidArgument, NotFound

log = logging.getLogger(__name__)

# Predictions scored per series and pass: a backlog is worked off over several passes.
BATCH = 500
# Longest market closure the lookahead of a prediction may span (a long holiday weekend).
GAP_ALLOWANCE_S = 7 * 86400


@dataclass(frozen=True)
class Score:
    row: repo.ScoreRow
    card_coverage: float
    card_mae_pct: float
    card_tp_hit_rate: float
    # The card's held-out coverage of the interval at the recorded nominal coverage.
    card_interval_coverage: float = 0.0
    # The ATR baseline's interval width at the same nominal coverage on the same bars (percent).
    baseline_interval_width_pct: float = 0.0


def baseline_interval_width_pct(
    ensemble: HorizonEnsemble | None, nominal: float, mean_atr_pct: float
) -> float:
    """The ATR baseline's interval, (high_coef - low_coef + 2 q) x ATR%, is linear in ATR%: its mean
    width over some bars is that factor times their mean ATR%. 0 when the manifest has no quantile."""
    if ensemble is None or nominal <= 0:
        return 0.0
    q = ensemble.baseline_interval_quantiles.get(coverage_key(nominal))
    if q is None:
        return 0.0
    return (ensemble.baseline_high_coef - ensemble.baseline_low_coef + 2.0 * q) * mean_atr_pct


# Longest filters: no model, symbol or horizon name comes near them. A longer one is bad input, not
# a pattern for the store (SQLite refuses a LIKE pattern of 100k characters as "too complex", which
# read as the database being down).
FILTER_MAX_LENGTH = {"model": 64, "symbol": 32, "horizon": 16}


def _check_filters(**filters: str) -> None:
    for field, value in filters.items():
        if len(value) > FILTER_MAX_LENGTH[field]:
            raise InvalidArgument.field(field, f"must be at most {FILTER_MAX_LENGTH[field]} characters")


# How far another engine's clock may run behind this one's, for the scores it stamps (s).
CLOCK_SKEW_S = 120


class Scorer:
    def __init__(
        self,
        windows: BarWindows,
        manifest: dict[str, HorizonEnsemble],
        adaptive: AdaptiveConformal | None = None,
    ) -> None:
        """With `adaptive`, each scored prediction's nonconformity score goes to its live scores (the
        adaptive intervals of later predictions read them), whichever engine scored it."""
        self.windows = windows
        self.manifest = manifest
        self.adaptive = adaptive
        self.scored = 0
        self.failures = 0
        self.last_pass_at: int | None = None
        # The live scores hold every served prediction scored until then (None: not read yet).
        self._scores_read_until: int | None = None

    def score_once(self, now: int | None = None) -> int:
        """Scores every due prediction (up to BATCH per series); returns how many were scored."""
        engine = self.windows.engine
        with engine.connect() as conn:
            pending = repo.pending_series(conn)
        total = 0
        for series in pending:
            try:
                total += self._score_series(series, now if now is not None else int(time.time()))
            except NotFound:
                continue  # the symbol was removed; its predictions can never be scored
        self.scored += total
        self.last_pass_at = int(time.time())
        self.follow_live_scores()
        return total

    def _score_series(self, pending: repo.PendingSeries, now: int) -> int:
        base = self.windows.resolve(pending.symbol, "")
        target = TIMEFRAMES[pending.timeframe]
        if not base.base.divides(target):
            return 0
        with self.windows.engine.connect() as conn:
            last = market_repository.last_bar_time(conn, base.symbol, base.base.name)
        if last is None:
            return 0
        data_end = last + base.base.seconds
        # Bar t is due when bar t+L has closed: t + (L + 1) * tf <= end of the stored data.
        cutoff = data_end - (pending.lookahead + 1) * target.seconds
        with self.windows.engine.connect() as conn:
            due = repo.pending_due(conn, pending, cutoff, BATCH)
        if not due:
            return 0
        series = Series(base.symbol, base.base, target)
        start = due[0].as_of
        # The lookahead counts bars, not time: leave room for weekends and holidays after the last as-of bar.
        end = due[-1].as_of + 2 * (pending.lookahead + 1) * target.seconds + GAP_ALLOWANCE_S
        span = (end - start) // target.seconds + 1  # at most one bar per period
        bars = self.windows.latest(series, span, start=start, end=end).bars
        if len(bars) and not bars.last_complete:
            bars = bars.slice(0, len(bars) - 1)
        index = {int(t): i for i, t in enumerate(bars.times)}
        atr = np.full(len(bars), np.nan, dtype=np.float64)
        rows = [(p, index.get(p.as_of)) for p in due]
        for p, i in rows:
            if i is not None:
                atr[i] = p.atr
        high_pct, low_pct = range_labels(bars, pending.lookahead)
        tp_long, tp_short = barrier_labels(bars, atr, pending.lookahead, TAKE_PROFIT_ATR, STOP_LOSS_ATR)
        outcomes = []
        for p, i in rows:
            if i is None or not np.isfinite(high_pct[i]) or not np.isfinite(tp_long[i]):
                continue  # the as-of bar or its lookahead is not (yet) in the store
            close = float(bars.close[i])
            outcomes.append(
                repo.Outcome(
                    p.id,
                    now,
                    close * (1 + float(high_pct[i]) / 100),
                    close * (1 + float(low_pct[i]) / 100),
                    float(tp_long[i]),
                    float(tp_short[i]),
                )
            )
        with self.windows.engine.begin() as conn:
            repo.mark_realized(conn, outcomes)
        return len(outcomes)

    def load_live_scores(self) -> int:
        """The latest stored scores of every series, to the live scores (at start: a restart keeps
        its adaptive intervals); returns how many were loaded."""
        if self.adaptive is None:
            return 0
        with self.windows.engine.connect() as conn:
            read_until = repo.last_realized_at(conn)
            rows = repo.recent_scored(conn, self.adaptive.scores.keep)
        self._add_live_scores(rows)
        self._scores_read_until = read_until if read_until is not None else 0
        return len(rows)

    def follow_live_scores(self) -> int:
        """Adds to the live scores what every engine scored since the last read (k8s runs two, and
        each pass scores what the other's has not taken yet): the engines' adaptive intervals learn
        from the same scores. Each pass reads again the last CLOCK_SKEW_S seconds of `realized_at`
        (another engine's clock may run behind); a score read twice replaces itself."""
        if self.adaptive is None:
            return 0
        if self._scores_read_until is None:
            return self.load_live_scores()
        with self.windows.engine.connect() as conn:
            rows, latest = repo.scored_since(conn, self._scores_read_until - CLOCK_SKEW_S)
        self._add_live_scores(rows)
        if latest is not None:
            self._scores_read_until = max(self._scores_read_until, latest)
        return len(rows)

    def _add_live_scores(self, rows: list[repo.ScoredPrediction]) -> None:
        assert self.adaptive is not None
        for r in rows:
            score = nonconformity(r.realized_high, r.realized_low, r.predicted_high, r.predicted_low, r.atr)
            self.adaptive.scores.add((r.symbol, r.timeframe, r.lookahead), [(r.as_of, score)])

    async def run(self, interval_s: float, after_pass: Callable[[], Awaitable[object]] | None = None) -> None:
        """Loads the live scores, then scores every `interval_s` seconds until cancelled, running
        `after_pass` (the automatic promotion's check) after each pass; a failed pass is logged and
        retried."""
        try:
            loaded = await asyncio.to_thread(self.load_live_scores)
            log.info("live scores loaded", extra={"count": loaded})
        except Exception:
            self.failures += 1
            log.exception("could not load live scores; adaptive intervals start from the shipped quantiles")
        while True:
            try:
                scored = await asyncio.to_thread(self.score_once)
                if scored:
                    log.info("predictions scored", extra={"count": scored})
                if after_pass is not None:
                    await after_pass()
            except Exception:
                self.failures += 1
                log.exception("scoring pass failed")
            await asyncio.sleep(interval_s)

    def scores(self, model: str = "", symbol: str = "", horizon: str = "") -> list[Score]:
        """Live figures per model (ensemble), symbol and horizon, beside the card's held-out ones."""
        _check_filters(model=model, symbol=symbol, horizon=horizon)
        with self.windows.engine.connect() as conn:
            rows = repo.aggregate_scores(conn, model, symbol.strip().upper(), horizon.strip().lower())
        result = []
        for row in rows:
            ensemble = self.manifest.get(row.horizon)
            card = ensemble.heldout_metrics if ensemble is not None else {}
            nominal = row.nominal_coverage
            result.append(
                Score(
                    row,
                    card.get("coverage", 0.0),
                    card.get("mae_pct", 0.0),
                    card.get("tp_long_hit_rate", 0.0),
                    card.get(f"interval_coverage_{coverage_key(nominal)}", 0.0) if nominal else 0.0,
                    baseline_interval_width_pct(ensemble, nominal, row.mean_atr_pct),
                )
            )
        return result
