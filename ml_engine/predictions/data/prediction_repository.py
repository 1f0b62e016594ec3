"""Recorded predictions (table ml_predictions, migrations 0002 to 0004): insert once, score, aggregate.

A prediction's id is the SHA-256 of what makes it distinct, so however many users ask for the same
prediction, one row exists: INSERT IGNORE on MySQL, ON CONFLICT DO NOTHING on SQLite, and a small
in-memory set of recently written ids skips the database round trip for repeats altogether.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    bindparam,
    case,
    func,
    select,
    update,
)
from sqlalchemy.dialects import mysql, sqlite

metadata = MetaData()

# The variant of the rows users were served; shadow rows are "shadow:<model>@<version>".
ACTIVE = "active"


def shadow_variant(model: str, version: str) -> str:
    """The variant recorded with predictions made with `model`'s shadow `version` substituted."""
    return f"shadow:{model}@{version}"


# Mirrors migrations 0002 to 0004 (the migrations are what create it).
predictions = Table(
    "ml_predictions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("model", String(64), nullable=False),
    Column("version", String(16), nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("horizon", String(16), nullable=False),
    Column("timeframe", String(8), nullable=False),
    Column("as_of", BigInteger, nullable=False),
    Column("lookahead", Integer, nullable=False),
    Column("close", Float(53), nullable=False),
    Column("atr", Float(53), nullable=False),
    Column("predicted_high", Float(53), nullable=False),
    Column("predicted_low", Float(53), nullable=False),
    Column("tp_long", Float(53), nullable=False),
    Column("tp_short", Float(53), nullable=False),
    Column("members", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("realized_at", BigInteger, nullable=True),
    Column("realized_high", Float(53), nullable=True),
    Column("realized_low", Float(53), nullable=True),
    Column("tp_long_outcome", Float(53), nullable=True),
    Column("tp_short_outcome", Float(53), nullable=True),
    Column("interval_high", Float(53), nullable=True),
    Column("interval_low", Float(53), nullable=True),
    Column("interval_coverage", Float(53), nullable=True),
    Column("variant", String(96), nullable=False, server_default=ACTIVE),
)


@dataclass(frozen=True)
class PredictionRecord:
    id: str
    model: str
    version: str
    symbol: str
    horizon: str
    timeframe: str
    as_of: int
    lookahead: int
    close: float
    atr: float
    predicted_high: float
    predicted_low: float
    tp_long: float
    tp_short: float
    members: str
    created_at: int
    # The calibrated interval served at the default coverage (None: served without one).
    interval_high: float | None = None
    interval_low: float | None = None
    interval_coverage: float | None = None
    # ACTIVE, or shadow_variant(...) for a prediction computed in shadow and never served.
    variant: str = ACTIVE


@dataclass(frozen=True)
class PendingPrediction:
    id: str
    as_of: int
    close: float
    atr: float
    # The median range it predicted (prices): the live score of its interval's quantile.
    predicted_high: float = 0.0
    predicted_low: float = 0.0
    variant: str = ACTIVE


@dataclass(frozen=True)
class ScoredPrediction:
    symbol: str
    timeframe: str
    lookahead: int
    as_of: int
    atr: float
    predicted_high: float
    predicted_low: float
    realized_high: float
    realized_low: float


@dataclass(frozen=True)
class Outcome:
    id: str
    realized_at: int
    realized_high: float
    realized_low: float
    tp_long_outcome: float
    tp_short_outcome: float


@dataclass(frozen=True)
class PendingSeries:
    symbol: str
    timeframe: str
    lookahead: int


@dataclass(frozen=True)
class ScoreRow:
    model: str
    version: str
    symbol: str
    horizon: str
    recorded: int
    realized: int
    coverage: float
    mae_pct: float
    tp_hit_rate: float
    mean_tp_probability: float
    # Realized predictions that had an interval, the share inside it, its nominal coverage (the
    # mean over them), its mean width and the mean ATR in percent of the close (for the baseline's width).
    interval_realized: int = 0
    interval_coverage: float = 0.0
    nominal_coverage: float = 0.0
    interval_width_pct: float = 0.0
    mean_atr_pct: float = 0.0


def insert_ignore(conn: Connection, record: PredictionRecord) -> bool:
    """Inserts `record` unless its id is stored; True when a row was written."""
    values = asdict(record)
    if conn.dialect.name == "mysql":
        result = conn.execute(mysql.insert(predictions).values(**values).prefix_with("IGNORE"))
    elif conn.dialect.name == "sqlite":
        result = conn.execute(
            sqlite.insert(predictions).values(**values).on_conflict_do_nothing(index_elements=["id"])
        )
    else:
        raise NotImplementedError(f"no insert-once for {conn.dialect.name}")
    return bool(result.rowcount)


def get_prediction(conn: Connection, prediction_id: str) -> dict[str, object] | None:
    row = conn.execute(select(predictions).where(predictions.c.id == prediction_id)).first()
    return dict(row._mapping) if row else None


def pending_series(conn: Connection) -> list[PendingSeries]:
    """Series that have predictions not scored yet."""
    rows = conn.execute(
        select(predictions.c.symbol, predictions.c.timeframe, predictions.c.lookahead)
        .where(predictions.c.realized_at.is_(None))
        .distinct()
    )
    return [PendingSeries(r.symbol, r.timeframe, int(r.lookahead)) for r in rows]


def pending_due(
    conn: Connection, series: PendingSeries, as_of_max: int, limit: int
) -> list[PendingPrediction]:
    """Unscored predictions of `series` as of bars opening at or before `as_of_max`, oldest first."""
    rows = conn.execute(
        select(
            predictions.c.id,
            predictions.c.as_of,
            predictions.c.close,
            predictions.c.atr,
            predictions.c.predicted_high,
            predictions.c.predicted_low,
            predictions.c.variant,
        )
        .where(
            predictions.c.realized_at.is_(None),
            predictions.c.symbol == series.symbol,
            predictions.c.timeframe == series.timeframe,
            predictions.c.lookahead == series.lookahead,
            predictions.c.as_of <= as_of_max,
        )
        .order_by(predictions.c.as_of)
        .limit(limit)
    )
    return [
        PendingPrediction(
            r.id,
            int(r.as_of),
            float(r.close),
            float(r.atr),
            float(r.predicted_high),
            float(r.predicted_low),
            r.variant,
        )
        for r in rows
    ]


def recent_scored(conn: Connection, limit: int) -> list[ScoredPrediction]:
    """The latest `limit` scored predictions of every series (symbol, timeframe, lookahead), oldest
    first: what the adaptive intervals start from after a restart."""
    p = predictions.c
    # Served predictions only: shadow rows never adapt what users are served.
    scored = p.realized_at.is_not(None) & (p.variant == ACTIVE)
    series = conn.execute(select(p.symbol, p.timeframe, p.lookahead).where(scored).distinct()).all()
    result: list[ScoredPrediction] = []
    for symbol, timeframe, lookahead in series:
        rows = conn.execute(
            select(p.as_of, p.atr, p.predicted_high, p.predicted_low, p.realized_high, p.realized_low)
            .where(scored, p.symbol == symbol, p.timeframe == timeframe, p.lookahead == lookahead)
            .order_by(p.as_of.desc())
            .limit(limit)
        ).all()
        result.extend(_scored(r, symbol, timeframe, lookahead) for r in reversed(rows))
    return result


def _scored(row: Any, symbol: str, timeframe: str, lookahead: int) -> ScoredPrediction:
    return ScoredPrediction(
        symbol,
        timeframe,
        int(lookahead),
        int(row.as_of),
        float(row.atr),
        float(row.predicted_high),
        float(row.predicted_low),
        float(row.realized_high),
        float(row.realized_low),
    )


def last_realized_at(conn: Connection) -> int | None:
    """When the latest prediction was scored, by whichever engine (None: none yet)."""
    value = conn.execute(select(func.max(predictions.c.realized_at))).scalar()
    return int(value) if value is not None else None


def scored_since(conn: Connection, realized_after: int) -> tuple[list[ScoredPrediction], int | None]:
    """Served predictions scored after `realized_after` (by any engine), and the latest
    `realized_at` among them (None: none)."""
    p = predictions.c
    rows = conn.execute(
        select(
            p.symbol,
            p.timeframe,
            p.lookahead,
            p.as_of,
            p.atr,
            p.predicted_high,
            p.predicted_low,
            p.realized_high,
            p.realized_low,
            p.realized_at,
        )
        .where(p.realized_at > realized_after, p.variant == ACTIVE)
        .order_by(p.realized_at, p.as_of)
    ).all()
    latest = max((int(r.realized_at) for r in rows), default=None)
    return [_scored(r, r.symbol, r.timeframe, r.lookahead) for r in rows], latest


def mark_realized(conn: Connection, outcomes: Sequence[Outcome]) -> None:
    if not outcomes:
        return
    stmt = (
        update(predictions)
        .where(predictions.c.id == bindparam("b_id"))
        .values(
            realized_at=bindparam("b_realized_at"),
            realized_high=bindparam("b_realized_high"),
            realized_low=bindparam("b_realized_low"),
            tp_long_outcome=bindparam("b_tp_long_outcome"),
            tp_short_outcome=bindparam("b_tp_short_outcome"),
        )
    )
    conn.execute(stmt, [{f"b_{k}": v for k, v in asdict(o).items()} for o in outcomes])


def aggregate_scores(
    conn: Connection, model: str = "", symbol: str = "", horizon: str = ""
) -> list[ScoreRow]:
    """Live scores per (model, version, symbol, horizon); empty filters match everything.

    `model` matches the ensemble name or any member's name (members JSON). Coverage: the realized
    high and low both inside the predicted range; MAE: mean of |high error| and |low error| in
    percent of the as-of close; TP hit rate and mean probability: the long side.
    """
    p = predictions.c
    realized = p.realized_at.is_not(None)
    inside = and_(realized, p.realized_high <= p.predicted_high, p.realized_low >= p.predicted_low)
    with_interval = and_(realized, p.interval_high.is_not(None))
    inside_interval = and_(
        with_interval, p.realized_high <= p.interval_high, p.realized_low >= p.interval_low
    )
    abs_err = (
        (func.abs(p.predicted_high - p.realized_high) + func.abs(p.predicted_low - p.realized_low))
        / (2 * p.close)
        * 100.0
    )
    query = select(
        p.model,
        p.version,
        p.symbol,
        p.horizon,
        func.count().label("recorded"),
        func.sum(case((realized, 1), else_=0)).label("realized"),
        func.sum(case((inside, 1), else_=0)).label("inside"),
        func.sum(case((realized, abs_err), else_=0.0)).label("abs_err"),
        func.sum(case((realized, p.tp_long_outcome), else_=0.0)).label("hits"),
        func.sum(case((realized, p.tp_long), else_=0.0)).label("prob"),
        func.sum(case((with_interval, 1), else_=0)).label("interval_realized"),
        func.sum(case((inside_interval, 1), else_=0)).label("inside_interval"),
        func.sum(case((with_interval, p.interval_coverage), else_=0.0)).label("nominal"),
        func.sum(
            case((with_interval, (p.interval_high - p.interval_low) / p.close * 100.0), else_=0.0)
        ).label("width"),
        func.sum(case((with_interval, p.atr / p.close * 100.0), else_=0.0)).label("atr_pct"),
    )
    # Users see the predictions they were served: shadow rows are compared by CompareShadow only.
    query = query.where(p.variant == ACTIVE)
    if model:
        query = query.where(
            (p.model == model) | p.members.like(f'%"name": "{_like_safe(model)}"%', escape="\\")
        )
    if symbol:
        query = query.where(p.symbol == symbol)
    if horizon:
        query = query.where(p.horizon == horizon)
    rows = conn.execute(query.group_by(p.model, p.version, p.symbol, p.horizon))
    scores = []
    for r in rows:
        n = int(r.realized or 0)
        m = int(r.interval_realized or 0)
        scores.append(
            ScoreRow(
                r.model,
                r.version,
                r.symbol,
                r.horizon,
                int(r.recorded),
                n,
                float(r.inside or 0) / n if n else 0.0,
                float(r.abs_err or 0) / n if n else 0.0,
                float(r.hits or 0) / n if n else 0.0,
                float(r.prob or 0) / n if n else 0.0,
                m,
                float(r.inside_interval or 0) / m if m else 0.0,
                round(float(r.nominal or 0) / m, 6) if m else 0.0,  # a mean of equal values, less float drift
                float(r.width or 0) / m if m else 0.0,
                float(r.atr_pct or 0) / m if m else 0.0,
            )
        )
    scores.sort(key=lambda s: (-s.realized, -s.recorded, s.model, s.symbol, s.horizon))
    return scores


@dataclass(frozen=True)
class PairedRow:
    """A shadow prediction and the active one as of the same bar, both scored."""

    as_of: int
    close: float
    realized_high: float
    realized_low: float
    tp_long_outcome: float
    tp_short_outcome: float
    active: tuple[float, float, float, float]
    shadow: tuple[float, float, float, float]


def scored_pairs(conn: Connection, variant: str) -> list[PairedRow]:
    """Every scored shadow prediction of `variant` with the scored active prediction of the same
    ensemble, symbol, horizon and as-of bar (the newest active row when versions changed), oldest first."""
    s = predictions.alias("s")
    a = predictions.alias("a")
    query = (
        select(
            s.c.symbol,
            s.c.as_of,
            s.c.close,
            s.c.realized_high,
            s.c.realized_low,
            s.c.tp_long_outcome,
            s.c.tp_short_outcome,
            a.c.predicted_high.label("a_high"),
            a.c.predicted_low.label("a_low"),
            a.c.tp_long.label("a_tp_long"),
            a.c.tp_short.label("a_tp_short"),
            s.c.predicted_high.label("s_high"),
            s.c.predicted_low.label("s_low"),
            s.c.tp_long.label("s_tp_long"),
            s.c.tp_short.label("s_tp_short"),
        )
        .select_from(
            s.join(
                a,
                and_(
                    a.c.variant == ACTIVE,
                    a.c.model == s.c.model,
                    a.c.symbol == s.c.symbol,
                    a.c.horizon == s.c.horizon,
                    a.c.as_of == s.c.as_of,
                ),
            )
        )
        .where(s.c.variant == variant, s.c.realized_at.is_not(None), a.c.realized_at.is_not(None))
        .order_by(s.c.symbol, s.c.as_of, a.c.created_at)
    )
    pairs: dict[tuple[str, int], PairedRow] = {}
    for r in conn.execute(query):
        pairs[(r.symbol, int(r.as_of))] = PairedRow(
            int(r.as_of),
            float(r.close),
            float(r.realized_high),
            float(r.realized_low),
            float(r.tp_long_outcome),
            float(r.tp_short_outcome),
            (float(r.a_high), float(r.a_low), float(r.a_tp_long), float(r.a_tp_short)),
            (float(r.s_high), float(r.s_low), float(r.s_tp_long), float(r.s_tp_short)),
        )
    return sorted(pairs.values(), key=lambda p: p.as_of)


def variant_counts(conn: Connection, variant: str) -> tuple[int, int]:
    """(recorded, scored) predictions of `variant`."""
    p = predictions.c
    row = conn.execute(
        select(func.count(), func.sum(case((p.realized_at.is_not(None), 1), else_=0))).where(
            p.variant == variant
        )
    ).one()
    return int(row[0] or 0), int(row[1] or 0)


def _like_safe(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace('"', "")


class PredictionStore:
    """Insert-once with a bounded memory of recently written ids; thread-safe."""

    def __init__(self, engine: Engine, remember: int = 10_000) -> None:
        self.engine = engine
        self.remember = remember
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def seen(self, prediction_id: str) -> bool:
        with self._lock:
            if prediction_id in self._recent:
                self._recent.move_to_end(prediction_id)
                return True
            return False

    def insert_once(self, record: PredictionRecord) -> bool:
        """True when this call wrote the row; a repeat (remembered or already stored) writes nothing."""
        if self.seen(record.id):
            return False
        with self.engine.begin() as conn:
            written = insert_ignore(conn, record)
        with self._lock:
            self._recent[record.id] = None
            while len(self._recent) > self.remember:
                self._recent.popitem(last=False)
        return written
