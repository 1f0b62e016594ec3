"""Training data: the bundled real samples resampled per horizon, or a generated series for tests.

Each symbol stays its own series (`SymbolSeries`): samples and their windows never cross symbols.
Rows are usable when the features of the whole sequence window are past the warm-up and the labels
are known; every model of a horizon trains and is scored on exactly the same rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ml_engine.market_data.domain.bars import Bars, FloatArray, IntArray
from ml_engine.market_data.domain.resample import resample
from ml_engine.market_data.domain.row_checks import BarRow
from ml_engine.market_data.domain.timeframes import TIMEFRAMES
from ml_engine.market_data.importing.csv_rows import CsvColumns, read_rows
from ml_engine.market_data.importing.samples import SAMPLES
from ml_engine.predictions.domain.features import FEATURE_NAMES, FEATURE_WARMUP, atr, compute_features
from ml_engine.predictions.domain.horizons import STOP_LOSS_ATR, TAKE_PROFIT_ATR, Horizon
from ml_engine.predictions.domain.labels import barrier_labels, range_labels

ATR_FEATURE = FEATURE_NAMES.index("atr_pct")
# Which real samples feed each horizon (symbol, stored timeframe). Scalping (5m) has none.
HORIZON_SOURCES: dict[str, tuple[str, ...]] = {
    "intraday": ("EURUSD",),
    "swing": ("EURUSD",),
    "position": ("GOOG", "EURUSD"),
}
TARGETS = ("range_high_pct", "range_low_pct", "tp_long", "tp_short")


@dataclass(frozen=True)
class SymbolSeries:
    symbol: str
    bars: Bars
    features: FloatArray  # [n, F]
    atr: FloatArray  # [n], price units
    labels: FloatArray  # [n, 4] in TARGETS order, NaN where unknown
    usable: np.ndarray  # [n] bool: a sample row


@dataclass(frozen=True)
class HorizonData:
    horizon: Horizon
    series: list[SymbolSeries]
    synthetic: bool

    @property
    def lengths(self) -> list[int]:
        return [len(s.bars) for s in self.series]

    @property
    def symbols(self) -> list[str]:
        return [s.symbol for s in self.series]

    def concat(self, attr: str) -> np.ndarray:
        return np.concatenate([getattr(s, attr) for s in self.series])


def load_sample(symbol: str) -> Bars:
    """A bundled sample as Bars, parsed the way the importer parses it."""
    sample = SAMPLES[symbol]
    with sample.path.open() as handle:
        rows = [r for r in read_rows(handle, CsvColumns()) if isinstance(r, BarRow)]
    return Bars.from_columns(
        [r.time for r in rows],
        [r.open for r in rows],
        [r.high for r in rows],
        [r.low for r in rows],
        [r.close for r in rows],
        [r.volume for r in rows],
    )


def sample_bars(symbol: str, timeframe: str) -> Bars:
    """The sample of `symbol` at `timeframe` (resampled from its stored timeframe; incomplete last bar
    dropped)."""
    base = TIMEFRAMES[SAMPLES[symbol].timeframe]
    bars = resample(load_sample(symbol), base, TIMEFRAMES[timeframe])
    return bars if bars.last_complete else bars.slice(0, len(bars) - 1)


def build_series(symbol: str, bars: Bars, horizon: Horizon) -> SymbolSeries:
    features = compute_features(bars)
    atr_v = atr(bars)
    high, low = range_labels(bars, horizon.lookahead)
    tp_long, tp_short = barrier_labels(bars, atr_v, horizon.lookahead, TAKE_PROFIT_ATR, STOP_LOSS_ATR)
    labels = np.stack([high, low, tp_long, tp_short], axis=1)
    usable = np.asarray(np.isfinite(labels).all(axis=1))
    # The whole window (W rows up to t) past the feature warm-up, and a positive ATR to scale by.
    usable[: FEATURE_WARMUP + horizon.window - 1] = False
    usable &= np.isfinite(features[:, ATR_FEATURE]) & (features[:, ATR_FEATURE] > 0)
    return SymbolSeries(symbol, bars, features, atr_v, labels, usable)


def real_data(horizon: Horizon) -> HorizonData | None:
    """The real samples for `horizon`, or None when there are none (scalping)."""
    sources = HORIZON_SOURCES.get(horizon.name)
    if not sources:
        return None
    series = [build_series(sym, sample_bars(sym, horizon.timeframe), horizon) for sym in sources]
    return HorizonData(horizon, series, synthetic=False)


def synthetic_bars(n: int, seconds: int, seed: int = 7, start: int = 1_700_006_400) -> Bars:
    """A generated random walk with volatility clustering: SYNTHETIC, for tests only."""
    rng = np.random.default_rng(seed)
    vol = np.exp(np.cumsum(rng.normal(0, 0.05, n)) * 0.3) * 0.002
    rets = rng.normal(0, 1, n) * vol
    close = 100.0 * np.exp(np.cumsum(rets))
    open_ = np.r_[close[0], close[:-1]]
    spread = np.abs(rng.normal(0, 1, (2, n))) * vol * close
    high = np.maximum(open_, close) + spread[0]
    low = np.minimum(open_, close) - spread[1]
    volume = rng.integers(100, 1000, n).astype(np.float64)
    times = start + seconds * np.arange(n, dtype=np.int64)
    return Bars.from_columns(times, open_, high, low, close, volume)


def synthetic_data(horizon: Horizon, n: int = 900, seed: int = 7) -> HorizonData:
    bars = synthetic_bars(n, TIMEFRAMES[horizon.timeframe].seconds, seed)
    return HorizonData(horizon, [build_series("SYNTH", bars, horizon)], synthetic=True)


def bars_sha256(parts: list[Bars]) -> str:
    digest = hashlib.sha256()
    for bars in parts:
        for column in (bars.times, bars.open, bars.high, bars.low, bars.close, bars.volume):
            digest.update(np.ascontiguousarray(column).tobytes())
    return digest.hexdigest()


def windows(features: FloatArray, rows: IntArray, window: int) -> np.ndarray:
    """[len(rows), window, F]: the `window` feature rows ending at each row (callers keep rows >=
    window-1)."""
    view = np.lib.stride_tricks.sliding_window_view(features, window, axis=0)  # [n-W+1, F, W]
    return np.ascontiguousarray(view[rows - (window - 1)].transpose(0, 2, 1))
