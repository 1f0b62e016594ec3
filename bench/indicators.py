"""Indicator domain-layer benchmark: our `compute` against calling TA-Lib directly.

    python -m bench.indicators [--bars 100000] [--repeat 50] [--seed 7]

On a seeded random walk of OHLCV bars, times `compute(bars, [request])` for rsi, macd, atr, bbands
and stoch (defaults) and the equivalent bare `talib.XXX(...)` call, then all five together. The
ratio (ours / TA-Lib, medians) is the domain layer's overhead: parameter mapping, the lookback
(cached) and building the result. Parsing and JSON conversion are timed on their own for
scale; the RPC-level overhead is measured elsewhere.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import talib

from ml_engine.indicators.domain import IndicatorRequest, compute, json_values, parse_indicators
from ml_engine.market_data.domain.bars import Bars, FloatArray

INDICATORS = "rsi,macd,atr,bbands,stoch"


def random_walk_bars(n: int, seed: int) -> Bars:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    spread = np.abs(rng.normal(0.0, 0.0005, (2, n))) * close
    high = np.maximum(open_, close) + spread[0]
    low = np.minimum(open_, close) - spread[1]
    volume = rng.integers(1, 10_000, n).astype(np.float64)
    return Bars.from_columns(np.arange(n, dtype=np.int64) * 60, open_, high, low, close, volume)


def direct_calls(bars: Bars) -> dict[str, Callable[[], object]]:
    """The same indicators with TA-Lib's own API and our default parameters."""
    h, lo, c = bars.high, bars.low, bars.close
    return {
        "rsi": lambda: talib.RSI(c, timeperiod=14),
        "macd": lambda: talib.MACD(c, fastperiod=12, slowperiod=26, signalperiod=9),
        "atr": lambda: talib.ATR(h, lo, c, timeperiod=14),
        "bbands": lambda: talib.BBANDS(c, timeperiod=20, nbdevup=2.0, nbdevdn=2.0, matype=talib.MA_Type.SMA),
        "stoch": lambda: talib.STOCH(h, lo, c, fastk_period=14, slowk_period=3, slowd_period=3),
    }


def paired_medians(
    first: Callable[[], object], second: Callable[[], object], repeat: int
) -> tuple[float, float]:
    """Median seconds of each, timed alternately so that drift on a shared machine hits both alike."""
    first(), second()  # warm-up: fills the lookback cache, allocator pools and CPU caches for both
    samples: tuple[list[float], list[float]] = ([], [])
    for i in range(repeat):
        order = (0, 1) if i % 2 == 0 else (1, 0)
        for side in order:
            fn = (first, second)[side]
            start = time.perf_counter()
            fn()
            samples[side].append(time.perf_counter() - start)
    return statistics.median(samples[0]), statistics.median(samples[1])


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    return paired_medians(fn, fn, repeat)[0]


def ours(bars: Bars, requests: tuple[IndicatorRequest, ...]) -> Callable[[], object]:
    return lambda: compute(bars, requests)


def all_outputs(bars: Bars, requests: tuple[IndicatorRequest, ...]) -> list[FloatArray]:
    return [values for series in compute(bars, requests) for values in series.outputs.values()]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bars", type=int, default=100_000, help="bars in the random walk (default 100000)")
    parser.add_argument("--repeat", type=int, default=50, help="timed runs per cell; the median is shown")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    bars = random_walk_bars(args.bars, args.seed)
    requests = parse_indicators(INDICATORS)
    direct = direct_calls(bars)

    rows = []
    for request in requests:
        rows.append((request.key, *paired_medians(ours(bars, (request,)), direct[request.name], args.repeat)))
    all_direct = list(direct.values())
    rows.append(
        ("all five", *paired_medians(ours(bars, requests), lambda: [f() for f in all_direct], args.repeat))
    )

    print(f"Indicator domain layer vs TA-Lib direct: {args.bars} bars, median of {args.repeat} runs\n")
    print("| indicator | ours ms | TA-Lib ms | overhead us | ratio |")
    print("|---|---:|---:|---:|---:|")
    for key, t_ours, t_talib in rows:
        overhead_us = (t_ours - t_talib) * 1e6
        print(
            f"| {key} | {t_ours * 1e3:.3f} | {t_talib * 1e3:.3f} | {overhead_us:.1f} | "
            f"{t_ours / t_talib:.3f}x |"
        )

    outputs = all_outputs(bars, requests)
    t_parse = median_seconds(lambda: parse_indicators(INDICATORS), args.repeat)
    t_json = median_seconds(lambda: [json_values(values) for values in outputs], args.repeat)
    print(f"\nparse_indicators({INDICATORS!r}): {t_parse * 1e6:.1f} us")
    print(
        f"json_values on all {len(outputs)} output arrays ({len(outputs) * args.bars} values): "
        f"{t_json * 1e3:.1f} ms"
    )


if __name__ == "__main__":
    main()
