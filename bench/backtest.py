"""Backtest engine throughput vs backtesting.py, on the same bars with identical trades:

    python -m bench.backtest [--bars 1000000] [--repeat 5]

Builds an hourly geometric random walk (fixed seed), runs `sma_cross` long/short (no costs unless
--commission/--slippage) through `run_backtest` (after `warm_up`, median of --repeat runs; signals,
fill kernel, metrics, trade list and equity curve included) and through backtesting.py once (its
SmaCross example, a trade at a time), checks the trades are the same, and prints bars/s and the speed ratio.
backtesting.py takes minutes on a million bars.

With vectorbt installed (`make bench-data` installs bench/requirements.txt; never a serving
dependency), also: the same sma_cross in vectorbt (bench/vectorbt_ref.py), trades checked equal,
both compiled beforehand (cold starts reported: the first call in this process, numba's on-disk
cache as found), and a parameter sweep, --sweep-sets (fast, slow) pairs on the first --sweep-bars
bars, through our sweep (ml_engine/backtests/domain/sweep.py, what RunSweep runs) against one
vectorbt call broadcasting over every pair; total returns and trade counts checked equal.
Raw figures: bench/results/backtest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]
import talib
from backtesting import Backtest, Strategy
from backtesting.lib import crossover

from bench import vectorbt_ref
from ml_engine.backtests.domain import BacktestConfig, BacktestResult, ExitReason, Side, run_backtest, warm_up
from ml_engine.backtests.domain.sweep import parameter_sets, run_sweep
from ml_engine.market_data.domain.bars import Bars

HOUR = 3600
FAST, SLOW = 10, 20


def random_walk(n: int, seed: int) -> Bars:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    open_ = np.r_[close[0], close[:-1]] * (1 + rng.normal(0, 0.0002, n))  # small gaps
    wick = np.abs(rng.normal(0, 0.001, n)) * close
    high = np.maximum(open_, close) + wick
    low = np.minimum(open_, close) - wick
    times = 1_500_000_000 - 1_500_000_000 % HOUR + np.arange(n, dtype=np.int64) * HOUR
    return Bars.from_columns(times, open_, high, low, close, rng.integers(100, 10_000, n))


class SmaCross(Strategy):
    """backtesting.py's SmaCross example with shorts; no new order on the last bar (nothing to fill it)."""

    fast = FAST
    slow = SLOW

    def init(self) -> None:
        self.sma_fast = self.I(talib.SMA, self.data.Close, self.fast)
        self.sma_slow = self.I(talib.SMA, self.data.Close, self.slow)
        self.n_bars = len(self.data)

    def next(self) -> None:
        if len(self.data) == self.n_bars:
            return
        if crossover(self.sma_fast, self.sma_slow):
            self.position.close()
            self.buy()
        elif crossover(self.sma_slow, self.sma_fast):
            self.position.close()
            self.sell()


def run_backtesting_py(bars: Bars, config: BacktestConfig) -> tuple[pd.DataFrame, float]:
    frame = pd.DataFrame(
        {"Open": bars.open, "High": bars.high, "Low": bars.low, "Close": bars.close, "Volume": bars.volume},
        index=pd.to_datetime(bars.times, unit="s"),
    )
    backtest = Backtest(
        frame,
        SmaCross,
        cash=config.initial_cash,
        commission=config.commission,
        spread=config.slippage,
        finalize_trades=True,
    )
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = backtest.run()
    return stats["_trades"], time.perf_counter() - started


def check_same_trades(bars: Bars, ours: BacktestResult, theirs: pd.DataFrame) -> None:
    """Same entry/exit bars, sizes and prices. A trade open at the end exits at the last close for us and
    at the last open for backtesting.py (finalize_trades), the one documented difference."""
    if len(ours.trades) != len(theirs):
        raise SystemExit(f"trade counts differ: ours {len(ours.trades)}, backtesting.py {len(theirs)}")
    entry = np.array([t.entry_bar for t in ours.trades])
    exit_ = np.array([t.exit_bar for t in ours.trades])
    units = np.array([t.size if t.side == Side.LONG else -t.size for t in ours.trades])
    entry_price = np.array([t.entry_price for t in ours.trades])
    exit_price = np.array([t.exit_price for t in ours.trades])
    end = ours.trades[-1].exit_reason == ExitReason.END and ours.trades[-1].exit_bar == len(bars) - 1
    settled = slice(0, len(theirs) - 1 if end else len(theirs))
    problems = [
        name
        for name, same in (
            ("entry bars", np.array_equal(entry, theirs.EntryBar)),
            ("exit bars", np.array_equal(exit_, theirs.ExitBar)),
            ("sizes", np.array_equal(units, theirs.Size)),
            ("entry prices", np.allclose(entry_price, theirs.EntryPrice, rtol=1e-9, atol=0)),
            ("exit prices", np.allclose(exit_price[settled], theirs.ExitPrice[settled], rtol=1e-9, atol=0)),
        )
        if not same
    ]
    if problems:
        raise SystemExit(f"trades differ from backtesting.py: {', '.join(problems)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="runs of our engine (median)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--commission", type=float, default=0.0)
    parser.add_argument("--slippage", type=float, default=0.0)
    parser.add_argument("--sweep-bars", type=int, default=150_000)
    parser.add_argument("--sweep-sets", type=int, default=100, choices=[4, 25, 100], help="a square grid")
    parser.add_argument(
        "--no-backtesting-py", action="store_true", help="vectorbt only (backtesting.py is slow)"
    )
    args = parser.parse_args(argv)
    started_at = time.perf_counter()

    bars = random_walk(args.bars, args.seed)
    # A million bars of round trips would eat any account through costs, and with it the trading; the
    # cost arithmetic is checked against backtesting.py in the tests.
    config = BacktestConfig(
        initial_cash=1_000_000, commission=args.commission, slippage=args.slippage, periods_per_year=365 * 24
    )
    params: dict[str, Any] = {"fast": FAST, "slow": SLOW}
    warm_seconds = warm_up()
    cold_started = time.perf_counter()
    result = run_backtest(bars, "sma_cross", params, config)
    ours_cold = warm_seconds + time.perf_counter() - cold_started

    ours_seconds = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        result = run_backtest(bars, "sma_cross", params, config)
        ours_seconds.append(time.perf_counter() - started)
    ours = statistics.median(ours_seconds)

    report: dict[str, Any] = {
        "cpu_cores": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "bars": args.bars,
        "trades": len(result.trades),
        "ours_s": ours,
        "ours_cold_s": ours_cold,
    }
    theirs = float("nan")
    if not args.no_backtesting_py:
        print(f"running backtesting.py on {args.bars:,} bars once ...", flush=True)
        theirs_trades, theirs = run_backtesting_py(bars, config)
        check_same_trades(bars, result, theirs_trades)
        report["backtesting_py_s"] = theirs

    print(
        f"\n### sma_cross({FAST}, {SLOW}) long/short, {args.bars:,} hourly bars, commission "
        f"{args.commission:g}, "
        f"slippage {args.slippage:g}: {len(result.trades):,} identical trades, last exit at bar "
        f"{result.trades[-1].exit_bar:,} ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
        f"warm-up {warm_seconds:.2f} s)\n"
    )
    print("| engine | seconds | bars/s | speed-up |\n|---|---:|---:|---:|")
    label = f"run_backtest (numba, median of {args.repeat})"
    if theirs == theirs:
        print(f"| {label} | {ours:.3f} | {args.bars / ours:,.0f} | {theirs / ours:,.0f}x |")
        print(f"| backtesting.py 0.6 (once) | {theirs:.1f} | {args.bars / theirs:,.0f} | 1x |")
    else:
        print(f"| {label} | {ours:.3f} | {args.bars / ours:,.0f} | |")

    version = vectorbt_ref.available()
    if version is None:
        print("\nvectorbt is not installed: `make bench-data` installs bench/requirements.txt")
    else:
        report["vectorbt"] = compare_vectorbt(bars, result, config, args, version, ours, ours_cold)
    report["elapsed_s"] = time.perf_counter() - started_at
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "backtest.json").write_text(json.dumps(report, indent=2))
    return 0


def sweep_pairs(sets: int) -> list[tuple[int, int]]:
    side = round(sets**0.5)
    fast = [5 + 5 * i for i in range(side)]  # 5 .. 50
    slow = [60 + 20 * i for i in range(side)]  # 60 .. 240: always above fast
    return [(f, s) for f in fast for s in slow]


def compare_vectorbt(
    bars: Bars,
    result: BacktestResult,
    config: BacktestConfig,
    args: argparse.Namespace,
    version: str,
    ours: float,
    ours_cold: float,
) -> dict[str, Any]:
    cash = config.initial_cash
    print(f"\nvectorbt {version}: first call (compiles) ...", flush=True)
    theirs_out, vbt_cold = vectorbt_ref.timed_run(bars, [(FAST, SLOW)], cash)
    vectorbt_ref.check_same_trades(bars, result, theirs_out)
    samples = [vectorbt_ref.timed_run(bars, [(FAST, SLOW)], cash)[1] for _ in range(max(1, args.repeat // 2))]
    vbt = statistics.median(samples)

    pairs = sweep_pairs(args.sweep_sets)
    part = bars.slice(0, min(args.sweep_bars, len(bars)))
    grid = {"fast": sorted({f for f, _ in pairs}), "slow": sorted({s for _, s in pairs})}
    sets = parameter_sets("sma_cross", grid, {})
    vectorbt_ref.run_sma_cross(part.slice(0, 2000), pairs, cash)  # compiles the broadcast path
    started = time.perf_counter()
    sweep = run_sweep(part, "sma_cross", sets, config, "total_return")
    ours_sweep = time.perf_counter() - started
    sweep_out, vbt_sweep = vectorbt_ref.timed_run(part, pairs, cash)
    theirs_returns = dict(zip(pairs, np.asarray(sweep_out["total_return"], dtype=float), strict=True))
    theirs_counts = np.bincount(sweep_out["trades"]["col"], minlength=len(pairs))
    for run in sweep.runs:
        pair = (int(run.params["fast"]), int(run.params["slow"]))
        column = pairs.index(pair)
        if (
            run.metrics.trades + (1 if run.metrics.trades < theirs_counts[column] else 0)
            != theirs_counts[column]
        ):
            raise SystemExit(f"sweep {pair}: {run.metrics.trades} trades, vectorbt {theirs_counts[column]}")
        if not np.isclose(run.metrics.total_return, theirs_returns[pair], rtol=1e-9, atol=1e-12):
            raise SystemExit(
                f"sweep {pair}: total return {run.metrics.total_return} vs {theirs_returns[pair]}"
            )

    print(
        f"\n### vectorbt {version} as a second reference: same {len(result.trades):,} trades "
        f"(entry/exit bars, sides, sizes, prices), metrics and the trade list in both\n"
    )
    print("| what | ours s | vectorbt s | ours / vectorbt |\n|---|---:|---:|---:|")
    rows = [
        (f"sma_cross on {len(bars):,} bars, compiled beforehand", ours, vbt),
        ("same, cold (first call in the process)", ours_cold, vbt_cold),
        (
            f"sweep: {len(pairs)} (fast, slow) sets on {len(part):,} bars (ours: RunSweep's engine, ranked; "
            "vectorbt: one broadcast call)",
            ours_sweep,
            vbt_sweep,
        ),
    ]
    for what, a, b in rows:
        print(f"| {what} | {a:.3f} | {b:.3f} | {a / b:.2f}x |")
    return {
        "version": version,
        "single_s": vbt,
        "single_cold_s": vbt_cold,
        "ours_single_s": ours,
        "ours_single_cold_s": ours_cold,
        "sweep_sets": len(pairs),
        "sweep_bars": len(part),
        "ours_sweep_s": ours_sweep,
        "vectorbt_sweep_s": vbt_sweep,
    }


if __name__ == "__main__":
    raise SystemExit(main())
