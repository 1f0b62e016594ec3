"""Every benchmark in one bounded run, and one summary table (`make bench`):

    python -m bench.summary [--only edge,auth,data,backtest,ml] [--step-timeout 900]

Runs each benchmark in its own process with short settings and a time limit per step (a step
that fails or runs out of time is reported as such; the others still run), then reads the raw
figures they write under bench/results/ and prints one table: what, ours, reference, ratio, with
the date, the host and its load. Each row is a side-by-side measured in one run of its step. The
table is also written to bench/results/summary.md (README's "Benchmarks at a glance" is a copy).
Steps that need something absent (MariaDB for `data`, the trained models for `ml`) are skipped.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

Row = tuple[str, str, str, str]

# Each step: the module and its bounded arguments.
STEPS: dict[str, list[str]] = {
    "edge": ["bench.edge", "--seconds", "2", "--warmup", "0.5", "--concurrency", "1", "16", "64"],
    "auth": ["bench.auth", "--logins", "400", "--rounds", "20", "--requests", "200"],
    "data": ["bench.market_data", "--import-bars", "100000", "--requests", "30"],
    "backtest": ["bench.backtest", "--repeat", "3"],
    "ml": ["bench.ml", "--only", "a,b,c", "--seconds", "2", "--concurrency", "1", "64", "--no-append"],
}


def latest(pattern: str) -> dict[str, Any] | None:
    found = sorted(glob.glob(str(RESULTS / pattern)), key=os.path.getmtime)
    if not found:
        return None
    data: dict[str, Any] = json.loads(Path(found[-1]).read_text())
    return data


def ratio(ours: float, reference: float) -> str:
    return f"{ours / reference:.2f}x" if reference else "n/a"


def edge_rows() -> list[Row]:
    data = latest("edge-*.json")
    if data is None:
        return []
    cells = {(r["path"], r["concurrency"]): r for r in data["results"]}
    rows: list[Row] = []
    for (path, conc), cell in sorted(cells.items()):
        direct = cells.get(("grpc-direct", conc))
        if path == "grpc-direct" or direct is None:
            continue
        rows.append(
            (
                f"edge GetStats {path} c={conc}: p50 (ms), req/s",
                f"{cell['p50_ms']:.2f} ms, {cell['rps']:.0f}/s",
                f"grpc-direct {direct['p50_ms']:.2f} ms, {direct['rps']:.0f}/s",
                f"p50 {ratio(cell['p50_ms'], direct['p50_ms'])}, req/s {ratio(cell['rps'], direct['rps'])}",
            )
        )
    return rows


def auth_rows() -> list[Row]:
    data = latest("auth.json")
    if data is None:
        return []
    logins = {row["concurrency"]: row for row in data["login"]}
    one, eight = logins.get(1), logins.get(8)
    if not one or not eight:
        return []
    rows = [
        (
            "login via Envoy (argon2id t=2 m=19 MiB), c=8 vs c=1: logins/s (p99)",
            f"{eight['per_s']:.1f}/s (p99 {eight['p99_ms']:.0f} ms)",
            f"{one['per_s']:.1f}/s (p99 {one['p99_ms']:.0f} ms)",
            ratio(eight["per_s"], one["per_s"]),
        )
    ]
    hashes = data["argon2"]
    if "ceiling_per_s" in hashes:  # results of a run before the ceiling was measured lack it
        rows.append(
            (
                f"login c=8 vs the hashes alone ({hashes['workers']} threads, in process): logins/s "
                "(least mean latency at c=8 by Little's law)",
                f"{eight['per_s']:.1f}/s",
                f"{hashes['ceiling_per_s']:.1f}/s ({8 / hashes['ceiling_per_s'] * 1000:.0f} ms)",
                ratio(eight["per_s"], hashes["ceiling_per_s"]),
            )
        )
    return rows


def data_rows() -> list[Row]:
    data = latest("market_data.json")
    if data is None:
        return []
    h, ind = data["history_s"], data["indicators_s"]
    rows: list[Row] = []
    paths = {"REST via Envoy": "engine-rendered JSON", "REST via Envoy, transcoded": "Envoy's transcoder"}
    for form in (" (packed)", ""):
        for path, how in paths.items():
            rest, direct = h.get(f"{path}{form}"), h.get(f"gRPC direct{form}")
            if rest and direct:
                label = "packed" if form else "a Bar per bar (deprecated)"
                rows.append(
                    (
                        f"GetHistory 5,000 bars, REST via Envoy ({how}) vs gRPC direct, {label}",
                        f"{rest * 1e3:.1f} ms",
                        f"{direct * 1e3:.1f} ms",
                        ratio(rest, direct),
                    )
                )
    # The least a REST client can do (the gRPC stub reads in C; httpx parses in Python), and the
    # same answer as protobuf through Envoy: what Envoy's hop costs without any JSON.
    direct = h.get("gRPC direct (packed)")
    floors = {
        "REST via Envoy (packed), minimal HTTP client": "REST via Envoy read by a minimal HTTP/1.1 client",
        "gRPC via Envoy (packed)": "gRPC via Envoy (no JSON)",
    }
    for key, how in floors.items():
        if key in h and direct:
            rows.append(
                (
                    f"GetHistory 5,000 bars, {how} vs gRPC direct, packed",
                    f"{h[key] * 1e3:.1f} ms",
                    f"{direct * 1e3:.1f} ms",
                    ratio(h[key], direct),
                )
            )
    talib = ind.get("TA-Lib in-process")
    for label, seconds in ind.items():
        if (label.startswith("GetIndicators") or "transport floor" in label) and talib:
            rows.append(
                (
                    f"{label} ({data['indicator_bars']:,} bars) vs TA-Lib in process",
                    f"{seconds * 1e3:.1f} ms",
                    f"{talib * 1e3:.1f} ms",
                    ratio(seconds, talib),
                )
            )
    return rows


def backtest_rows() -> list[Row]:
    data = latest("backtest.json")
    if data is None:
        return []
    rows: list[Row] = []
    bars = f"{data['bars']:,}"
    if "backtesting_py_s" in data:
        rows.append(
            (
                f"sma_cross {bars} bars vs backtesting.py",
                f"{data['ours_s']:.3f} s",
                f"{data['backtesting_py_s']:.2f} s",
                ratio(data["ours_s"], data["backtesting_py_s"]),
            )
        )
    vbt = data.get("vectorbt")
    if vbt:
        rows += [
            (
                f"sma_cross {bars} bars vs vectorbt {vbt['version']}, compiled",
                f"{vbt['ours_single_s']:.3f} s",
                f"{vbt['single_s']:.3f} s",
                ratio(vbt["ours_single_s"], vbt["single_s"]),
            ),
            (
                "same, cold start (first call in the process)",
                f"{vbt['ours_single_cold_s']:.2f} s",
                f"{vbt['single_cold_s']:.2f} s",
                ratio(vbt["ours_single_cold_s"], vbt["single_cold_s"]),
            ),
            (
                f"sweep {vbt['sweep_sets']} sets on {vbt['sweep_bars']:,} bars vs vectorbt broadcasting",
                f"{vbt['ours_sweep_s']:.3f} s",
                f"{vbt['vectorbt_sweep_s']:.3f} s",
                ratio(vbt["ours_sweep_s"], vbt["vectorbt_sweep_s"]),
            ),
        ]
    return rows


def ml_rows() -> list[Row]:
    data = latest("ml-*.json")
    if data is None:
        return []
    rows: list[Row] = []
    cells = {(c["path"], c["concurrency"]): c for c in data.get("b", [])}
    for (path, conc), cell in sorted(cells.items()):
        direct = cells.get(("grpc-direct", conc))
        if path != "grpc-direct" and direct:
            rows.append(
                (
                    f"Predict {path} c={conc}: p50, req/s",
                    f"{cell['p50_ms']:.2f} ms, {cell['rps']:.0f}/s",
                    f"grpc-direct {direct['p50_ms']:.2f} ms, {direct['rps']:.0f}/s",
                    f"p50 {ratio(cell['p50_ms'], direct['p50_ms'])}",
                )
            )
    batching = {(r["model"], r["batching"]): r for r in data.get("c", [])}
    for (model, batched), row in sorted(batching.items()):
        plain = batching.get((model, False))
        if batched and plain:
            rows.append(
                (
                    f"micro-batching {model}, in process: req/s",
                    f"{row['rps']:.0f}/s",
                    f"{plain['rps']:.0f}/s unbatched",
                    ratio(row["rps"], plain["rps"]),
                )
            )
    on = [c["rps"] for c in data.get("c_engine", []) if c["label"] == "batching on"]
    off = [c["rps"] for c in data.get("c_engine", []) if c["label"] == "batching off"]
    if on and off:
        rows.append(
            (
                f"micro-batching end to end, on-demand Predict gRPC c=64, engines side by side "
                f"({len(on)} rounds, medians; mean batch {data.get('c_batch_size', 0.0):.1f}): req/s",
                f"{statistics.median(on):.0f}/s",
                f"{statistics.median(off):.0f}/s unbatched",
                ratio(statistics.median(on), statistics.median(off)),
            )
        )
    return rows


READERS: dict[str, Callable[[], list[Row]]] = {
    "edge": edge_rows,
    "auth": auth_rows,
    "data": data_rows,
    "backtest": backtest_rows,
    "ml": ml_rows,
}


def mysql_reachable() -> bool:
    import socket

    try:
        with socket.create_connection((os.environ.get("BENCH_MYSQL_HOST", "127.0.0.1"), 3306), timeout=2):
            return True
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", default=",".join(STEPS), help="steps to run, e.g. auth,data")
    parser.add_argument("--step-timeout", type=float, default=900.0, help="seconds each step may take")
    parser.add_argument("--no-run", action="store_true", help="summarise the latest results only")
    args = parser.parse_args(argv)
    steps = [s for s in args.only.split(",") if s]
    unknown = set(steps) - set(STEPS)
    if unknown:
        parser.error(f"unknown steps: {', '.join(sorted(unknown))}")

    load_before = os.getloadavg()
    outcomes: dict[str, str] = {}
    for step in steps:
        if args.no_run:
            outcomes[step] = "not run (--no-run)"
            continue
        if step == "data" and not mysql_reachable():
            outcomes[step] = "skipped: no MariaDB/MySQL on BENCH_MYSQL_HOST:3306"
            continue
        if step == "ml" and not (ROOT / "ml_engine" / "model_repository" / "ensembles.json").exists():
            outcomes[step] = "skipped: no trained models (make train)"
            continue
        print(f"== {step}: {' '.join(STEPS[step])}", flush=True)
        started = time.perf_counter()
        try:
            done = subprocess.run([sys.executable, "-m", *STEPS[step]], cwd=ROOT, timeout=args.step_timeout)
            status = "ok" if done.returncode == 0 else f"exit {done.returncode}"
        except subprocess.TimeoutExpired:
            status = f"stopped after {args.step_timeout:.0f} s"
        outcomes[step] = f"{status} in {time.perf_counter() - started:.0f} s"

    rows: list[Row] = []
    for step in steps:
        try:
            rows += READERS[step]()
        except (KeyError, TypeError, ValueError) as error:  # an older results file: say so, go on
            outcomes[step] += f"; results unreadable ({type(error).__name__}: {error})"
    now = datetime.now(UTC)
    lines = [
        f"Benchmarks, {now:%Y-%m-%d %H:%M} UTC, host {platform.node()} ({os.cpu_count()} CPU cores, "
        f"{platform.machine()}, Python {platform.python_version()}), load average "
        f"{load_before[0]:.1f} before and {os.getloadavg()[0]:.1f} after",
        "",
        "| what | ours | reference | ratio |",
        "|---|---:|---:|---:|",
        *(f"| {what} | {ours} | {ref} | {r} |" for what, ours, ref, r in rows),
        "",
        "Steps: " + "; ".join(f"{step} {outcome}" for step, outcome in outcomes.items()),
    ]
    text = "\n".join(lines)
    print("\n" + text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "summary.md").write_text(text + "\n")
    return 0 if all(o.startswith(("ok", "skipped", "not run")) for o in outcomes.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
