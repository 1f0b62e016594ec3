"""Shadow models: what a shadow costs the user's request, in process, both sides in one run.

    .venv/bin/python -m bench.shadow [--requests 200] [--concurrency 1,16]

The committed models on a temporary copy of the EURUSD sample (SQLite). A Forecaster without the
latest-bar cache (every request computes the intraday ensemble, as an `as_of` Predict does) answers
`--requests` predictions as of distinct past bars, at each concurrency: first with no shadow, then
with version 1 of intraday_xgb_range_high in shadow (the ensemble computed again with it, in a
background task, and recorded). Latency = the user's await of `predict` (p50/p99); the background
work is then waited for and counted. Printed as a markdown table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from ml_engine.config import MlEngineSettings
from ml_engine.market_data.bar_windows import BarWindows
from ml_engine.market_data.data import repository as market_repository
from ml_engine.market_data.importing.importer import import_sample
from ml_engine.models.serving.activation import VersionActivation
from ml_engine.models.serving.registry import ModelRegistry
from ml_engine.models.serving.shadow import ShadowRegistry
from ml_engine.predictions.data.prediction_repository import PredictionStore
from ml_engine.predictions.domain.ensemble import load_manifest
from ml_engine.predictions.domain.horizons import parse_horizons
from ml_engine.predictions.forecaster import Forecaster
from ml_engine.predictions.recording import PredictionRecorder
from ml_engine.shared.database import MarketStore

REPOSITORY = Path(__file__).resolve().parents[1] / "ml_engine" / "model_repository"
MODEL = "intraday_xgb_range_high"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(forecaster: Forecaster, times: list[int], concurrency: int) -> list[float]:
    horizons = parse_horizons("intraday")
    latencies: list[float] = []
    queue = list(times)

    async def user() -> None:
        while queue:
            t = queue.pop()
            started = time.perf_counter()
            await forecaster.predict("EURUSD", horizons, as_of=t)
            latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(user() for _ in range(concurrency)))
    return latencies


async def main(requests: int, concurrencies: list[int]) -> None:
    settings = MlEngineSettings(
        _env_file=None,
        model_path=str(REPOSITORY),
        ml_execution_provider="cpu",
        ml_warmup_runs=1,
        ml_model_watch_interval_s=0.0,
    )
    registry = ModelRegistry(REPOSITORY)
    activation = VersionActivation(registry, settings)
    await activation.start()
    with tempfile.TemporaryDirectory() as folder:
        store = MarketStore(f"sqlite:///{folder}/market.db")
        store.migrate()
        import_sample(store.engine, "EURUSD")
        with store.engine.connect() as conn:
            last = market_repository.last_bar_time(conn, "EURUSD", "1h")
        assert last is not None
        recorder = PredictionRecorder(PredictionStore(store.engine))
        shadows = ShadowRegistry(registry, settings)
        forecaster = Forecaster(
            BarWindows(store.engine), registry, load_manifest(REPOSITORY), recorder, shadows=shadows
        )
        rows = [
            "| concurrency | shadow | requests | p50 ms | p99 ms | shadow predictions |",
            "|---:|---|---:|---:|---:|---:|",
        ]
        offset = 20
        for concurrency in concurrencies:
            for with_shadow in (False, True):
                if with_shadow:
                    await shadows.start(MODEL, "1")
                else:
                    shadows._shadows.clear()
                times = [last - 3600 * (offset + k) for k in range(requests)]
                offset += requests
                await measure(forecaster, times[:10], concurrency)  # warm the feature windows' reads
                await forecaster.settle()
                before = forecaster.shadow_predictions
                latencies = await measure(forecaster, times[10:], concurrency)
                await forecaster.settle()
                rows.append(
                    f"| {concurrency} | {'yes' if with_shadow else 'no'} | {len(latencies)} | "
                    f"{statistics.median(latencies):.2f} | {percentile(latencies, 0.99):.2f} | "
                    f"{forecaster.shadow_predictions - before} |"
                )
        recorder.close()
        store.close()
    await activation.stop()
    print("\n".join(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", default="1,16")
    args = parser.parse_args()
    asyncio.run(main(args.requests, [int(c) for c in args.concurrency.split(",")]))
