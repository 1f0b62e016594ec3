"""ML serving benchmark, every part side by side in one run:

    python -m bench.ml [--only a,b,c,d,e] [--seconds 3] [--subscribers 500] [--bars 5]   (make bench-ml)

a. ONNX Runtime vs the native framework, in process, batch 1 and 64, one thread each: XGBoost
   (`Booster` from <model>/1/xgb.json, `inplace_predict`) vs ONNX Runtime on the same model, and
   torch eager (`build_net` + torch_state.pt, needs the training extra) vs ONNX Runtime for the
   GRU and the Transformer. Median and p99 per call; parity (max |native - ORT|) alongside.
b. Predict (horizon=all, EURUSD): REST through Envoy and native gRPC straight to the ML engine,
   concurrency 1, 16 and 64, p50/p99 and throughput. A private Stack on its own ports, the ML engine
   with its defaults (latest-bar predictions cached).
c. Micro-batching at concurrency 64, with vs without: (1) in process, two ModelRegistry
   instances (ML_BATCHING true / false), 64 tasks calling `infer` on one model with [1, ...]
   inputs; (2) end to end, Predict over direct gRPC at c=64: the stack's ML engine (ML_BATCHING
   =true) and a second one beside it (false, its own port and copy of the market data), both with
   ML_PREDICTION_CACHE_SIZE=0 so that every request runs the models, loaded in turn for
   --batching-rounds rounds (order alternating): on a host whose speed drifts by minutes, each
   round's ratio compares two windows seconds apart; the mean batch size is read from the
   batched engine's GetStats (only when the stack runs, i.e. with b, d or e); (3) where the
   time goes, batching on vs off at c=64: the engine's Forecaster in process, its steps timed
   (queue wait, store read, features, inference, serialisation: `_instrument`).
d. Streaming fan-out: N concurrent subscribers through Envoy to StreamPredictions(EURUSD, 1h),
   over gRPC-Web (raw HTTP/1.1, one connection each, as browsers), native gRPC (grpc.aio, 100
   streams per HTTP/2 connection) and the gateway's WebSocket bridge (--transports; default
   gRPC-Web), for each count of --subscribers (default 500; 2000 5000 are the big ones);
   bar-to-client latency = client receive time - published_at, p50/p99 over several bars (only
   bars published after every subscriber was connected); memory per subscriber = RSS growth of
   each stack process between before the first subscriber and once every one has its first
   message, divided by the subscribers.
e. Latest-bar predictions cached vs on demand: Predict (horizon=all, EURUSD, no as_of) over REST
   through Envoy and direct gRPC at concurrency 1 and 64, the ML engine with its default
   ML_PREDICTION_CACHE_SIZE, then restarted with 0 (every request computes); CPU of each stack
   process and of the load generator over each measured window, to say which saturates first.

Load generators run in their own processes (spawned), so they share no event loop or GC with
the stack or each other. Results are printed as markdown tables, appended to bench/RESULTS.md
and written as JSON to bench/results/ml-<time>.json. Any failed request makes the run exit 1.
Runs that start the stack use fixed ports: run them under `flock /tmp/e2e.lock` beside tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.edge import _cpu_seconds, percentile
from bench.private_stack import in_subprocess, private_stack_env
from tests.support.ports import free_ports

ROOT = Path(__file__).resolve().parent.parent
RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
# Below the kernel's ephemeral ports: bench/private_stack.py says why.
PORTS = {
    "ENVOY_PORT": 28580,
    "ENVOY_ADMIN_PORT": 29951,
    "BUSINESS_GRPC_PORT": 25551,
    "ML_GRPC_PORT": 25552,
    "GATEWAY_PORT": 28500,
}
SYMBOL = "EURUSD"
PREDICT_METHOD = "/trading.ml.v1.PredictionService/Predict"
STREAM_METHOD = "/trading.ml.v1.PredictionService/StreamPredictions"
PARTS = ("a", "b", "c", "d", "e")
TRANSPORTS = ("grpc-web", "grpc", "ws")
STREAMS_PER_CHANNEL = 100  # native gRPC subscribers per HTTP/2 connection

Float32Array = npt.NDArray[np.float32]


# =========================================================================== a: ORT vs native


@dataclass
class KernelRow:
    model: str
    runtime: str  # "xgboost", "torch eager" or "onnxruntime"
    batch: int
    calls: int
    median_us: float
    p99_us: float
    parity: float = float("nan")


def _time_calls(run: Callable[[], object], seconds: float, min_calls: int = 50) -> tuple[int, float, float]:
    for _ in range(10):  # warm-up: allocations, caches, lazy initialisation
        run()
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(samples) < min_calls:
        started = time.perf_counter_ns()
        run()
        samples.append((time.perf_counter_ns() - started) / 1000)
    samples.sort()
    return len(samples), percentile(samples, 0.5), percentile(samples, 0.99)


def _model_inputs(meta: Any, batch: int) -> Float32Array:
    """Real EURUSD feature rows (or windows), normalized as serving does, NaN -> 0 after."""
    from backtesting.test import EURUSD

    from ml_engine.market_data.domain.bars import Bars
    from ml_engine.predictions.domain.features import compute_features

    frame = EURUSD.tz_localize("UTC")
    bars = Bars.from_columns(
        frame.index.as_unit("s").asi8, frame.Open, frame.High, frame.Low, frame.Close, frame.Volume
    )
    features = compute_features(bars)
    normalized = (features - np.asarray(meta.norm_mean)) / np.asarray(meta.norm_std)
    normalized = np.nan_to_num(normalized, nan=0.0).astype(np.float32)
    window = int(meta.window_bars)
    if window <= 1:
        return np.ascontiguousarray(normalized[-batch:])
    windows = [normalized[len(normalized) - window - i : len(normalized) - i] for i in range(batch)]
    return np.ascontiguousarray(np.stack(windows[::-1]))


def _ort_session(path: Path, provider: str, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    providers = (
        ["CUDAExecutionProvider", "CPUExecutionProvider"] if provider == "cuda" else ["CPUExecutionProvider"]
    )
    session = ort.InferenceSession(str(path), options, providers=providers)
    if provider == "cuda" and session.get_providers()[0] != "CUDAExecutionProvider":
        raise RuntimeError(f"CUDA was asked for but the session runs on {session.get_providers()}")
    return session


def _metadata(session: Any) -> Any:
    from ml_engine.predictions.domain.model_metadata import METADATA_KEY, ModelMetadata

    return ModelMetadata.from_json(session.get_modelmeta().custom_metadata_map[METADATA_KEY])


def _ort_runner(session: Any, meta: Any, x: Float32Array) -> Callable[[], Any]:
    feeds = {meta.input_name: x}
    outputs = [meta.output_name]
    return lambda: session.run(outputs, feeds)[0]


def _ort_columns(session: Any, meta: Any, x: Float32Array) -> npt.NDArray[np.float64]:
    out = np.asarray(session.run([meta.output_name], {meta.input_name: x})[0], dtype=np.float64)
    out = out.reshape(len(x), -1)
    return out[:, list(meta.output_indices)] if out.shape[1] > len(meta.output_indices) else out


def _xgb_native(version_dir: Path, threads: int) -> Callable[[Float32Array], npt.NDArray[np.float64]]:
    """`inplace_predict` on the native booster, plus what the exported graph adds after the
    trees: range regressors predict in ATR units and the graph rescales by the ATR feature
    (x100, to percent), so the native side does the same for a like-for-like answer."""
    import onnx
    import xgboost as xgb
    from onnx import numpy_helper

    booster = xgb.Booster(model_file=str(version_dir / "xgb.json"))
    booster.set_param({"nthread": threads})
    graph = onnx.load(str(version_dir / "model.onnx")).graph
    constants = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    if "atr_start" not in constants:
        return lambda x: np.asarray(booster.inplace_predict(x), dtype=np.float64)
    column = int(constants["atr_start"].reshape(-1)[0])

    def rescaled(x: Float32Array) -> npt.NDArray[np.float64]:
        raw = np.asarray(booster.inplace_predict(x), dtype=np.float64)
        return raw * np.maximum(x[:, column], 0.0) * 100.0

    return rescaled


def part_a(repo: Path, horizon: str, seconds: float, provider: str, threads: int) -> list[KernelRow]:
    rows: list[KernelRow] = []
    xgb_names = [f"{horizon}_xgb_range_high", f"{horizon}_xgb_tp_long"]
    sequence_names = [f"{horizon}_gru", f"{horizon}_transformer"]
    missing = [n for n in (*xgb_names, *sequence_names) if not (repo / n / "1" / "model.onnx").is_file()]
    if missing:
        raise FileNotFoundError(f"models missing in {repo}: {', '.join(missing)} (run `make train`)")
    for xgb_name in xgb_names:
        session = _ort_session(repo / xgb_name / "1" / "model.onnx", provider, threads)
        meta = _metadata(session)
        native_run = _xgb_native(repo / xgb_name / "1", threads)
        for batch in (1, 64):
            x = _model_inputs(meta, batch)
            native = native_run(x).reshape(len(x), -1)
            parity = float(np.max(np.abs(native - _ort_columns(session, meta, x)[:, : native.shape[1]])))
            calls, med, p99 = _time_calls(partial(native_run, x), seconds)
            rows.append(KernelRow(xgb_name, "xgboost", batch, calls, med, p99, parity))
            calls, med, p99 = _time_calls(_ort_runner(session, meta, x), seconds)
            rows.append(KernelRow(xgb_name, "onnxruntime", batch, calls, med, p99, parity))
            print(
                f"  a {xgb_name} batch {batch}: xgboost {rows[-2].median_us:.1f} us, ORT {med:.1f} us",
                flush=True,
            )
    try:
        import torch

        from ml_engine.training.nets import build_net
    except ImportError as error:
        print(f"  a: torch eager skipped ({error}; `pip install -r requirements-train.txt`)", flush=True)
        return rows
    torch.set_num_threads(max(1, threads))
    for name in sequence_names:
        session = _ort_session(repo / name / "1" / "model.onnx", provider, threads)
        meta = _metadata(session)
        net = build_net(meta.family, len(meta.feature_names), meta.window_bars)
        net.load_state_dict(
            torch.load(repo / name / "1" / "torch_state.pt", map_location="cpu", weights_only=True)
        )
        net.eval()
        for batch in (1, 64):
            x = _model_inputs(meta, batch)
            tensor = torch.from_numpy(x)

            def eager(tensor: Any = tensor, net: Any = net) -> Any:
                with torch.inference_mode():
                    return net(tensor)

            native = np.asarray(eager().numpy(), dtype=np.float64).reshape(len(x), -1)
            ort_out = np.asarray(
                session.run([meta.output_name], {meta.input_name: x})[0], dtype=np.float64
            ).reshape(len(x), -1)
            parity = (
                float(np.max(np.abs(native - ort_out))) if native.shape == ort_out.shape else float("nan")
            )
            calls, med, p99 = _time_calls(eager, seconds)
            rows.append(KernelRow(name, "torch eager", batch, calls, med, p99, parity))
            calls, med, p99 = _time_calls(_ort_runner(session, meta, x), seconds)
            rows.append(KernelRow(name, "onnxruntime", batch, calls, med, p99, parity))
            print(
                f"  a {name} batch {batch}: torch {rows[-2].median_us:.1f} us, ORT {med:.1f} us", flush=True
            )
    return rows


def render_a(rows: list[KernelRow], provider: str, threads: int) -> str:
    lines = [
        f"### a. ONNX Runtime ({provider}) vs native, in process, {threads} thread(s), per call",
        "",
        "| model | batch | native | native median us | native p99 us | ORT median us | ORT p99 us "
        "| speed-up (median) | max abs diff |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for native in (r for r in rows if r.runtime != "onnxruntime"):
        ort = next(
            r
            for r in rows
            if r.runtime == "onnxruntime" and r.model == native.model and r.batch == native.batch
        )
        lines.append(
            f"| {native.model} | {native.batch} | {native.runtime} | {native.median_us:.1f} | "
            f"{native.p99_us:.1f} | {ort.median_us:.1f} | {ort.p99_us:.1f} | "
            f"{native.median_us / ort.median_us:.1f}x | {native.parity:.1e} |"
        )
    return "\n".join(lines)


# =========================================================================== b, c: load cells


@dataclass
class CellSpec:
    path: str  # "grpc-direct" or "rest-envoy"
    concurrency: int
    seconds: float
    warmup_s: float
    token: str
    ml_target: str
    envoy_port: int
    label: str = ""
    # Stack processes whose CPU time is sampled over the measured window (name -> pid).
    stack_pids: dict[str, int] = field(default_factory=dict)


@dataclass
class CellResult:
    path: str
    concurrency: int
    label: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    rps: float
    first_error: str = ""
    # Cores used over the measured window: each stack process, and the load generator.
    stack_cpu: dict[str, float] = field(default_factory=dict)
    loadgen_cpu: float = 0.0


async def _run_cell(spec: CellSpec) -> CellResult:
    import grpc

    from bench.edge import Call, HttpConn, closed_loop
    from trading.ml.v1 import (
        engine_service_pb2,
        engine_service_pb2_grpc,
        prediction_service_pb2,
        prediction_service_pb2_grpc,
    )

    floor = spec.label == E_FLOOR  # GetStats on the same path: a reference
    channel: grpc.aio.Channel | None = None
    call: Call
    if spec.path == "grpc-direct":
        channel = grpc.aio.insecure_channel(spec.ml_target)
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        engine = engine_service_pb2_grpc.EngineServiceStub(channel)
        request = prediction_service_pb2.PredictRequest(symbol=SYMBOL, horizon="all")
        metadata = (("authorization", f"Bearer {spec.token}"),)

        async def call_grpc(_conn: HttpConn | None) -> str | None:
            if floor:
                await engine.GetStats(engine_service_pb2.GetStatsRequest(), metadata=metadata, timeout=30)
                return None
            reply = await stub.Predict(request, metadata=metadata, timeout=30)
            return None if reply.predictions else "no predictions in the reply"

        call = call_grpc
    else:
        target, marker = (
            ("/api/stats", b"{") if floor else (f"/api/predict/{SYMBOL}?horizon=all", b'"predictions"')
        )
        raw = (
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{spec.envoy_port}\r\n"
            f"Authorization: Bearer {spec.token}\r\nAccept: application/json\r\n\r\n"
        ).encode()

        async def call_rest(conn: HttpConn | None) -> str | None:
            assert conn is not None
            status, _, body = await conn.request(raw)
            if status != 200 or marker not in body:
                return f"HTTP {status}: {body[:200]!r}"
            return None

        call = call_rest

    before: dict[str, float] = {}
    cpu0 = 0.0

    def snapshot() -> None:
        nonlocal cpu0
        before.update({n: _cpu_seconds(p) for n, p in spec.stack_pids.items()})
        cpu0 = time.process_time()

    try:
        outcome = await closed_loop(
            call,
            lambda: None if channel is not None else HttpConn("127.0.0.1", spec.envoy_port),
            spec.concurrency,
            spec.warmup_s,
            spec.seconds,
            on_measure=snapshot,
        )
        loadgen = (time.process_time() - cpu0) / outcome.elapsed
        stack_cpu = {n: (_cpu_seconds(p) - before[n]) / outcome.elapsed for n, p in spec.stack_pids.items()}
    finally:
        if channel is not None:
            await channel.close()
    latencies = [s * 1000 for s in outcome.latencies]
    return CellResult(
        spec.path,
        spec.concurrency,
        spec.label,
        len(latencies),
        outcome.errors,
        outcome.elapsed,
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
        len(latencies) / outcome.elapsed,
        outcome.first_error,
        stack_cpu,
        loadgen,
    )


def run_cell(spec: CellSpec) -> CellResult:
    """Entry point of a load-generator process."""
    return asyncio.run(_run_cell(spec))


def render_b(results: list[CellResult]) -> str:
    lines = [
        "### b. Predict (horizon=all, EURUSD): REST through Envoy vs direct gRPC",
        "",
        "| path | conc | p50 ms | p99 ms | req/s | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.path} | {r.concurrency} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.rps:.0f} | {r.errors} |"
        )
    return "\n".join(lines)


# =========================================================================== c: micro-batching in process


@dataclass
class BatchingRow:
    model: str
    batching: bool
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float


def _registry_throughput(
    repo: str, provider: str, model: str, batching: bool, concurrency: int, seconds: float
) -> BatchingRow:
    """Entry point of a process: one ModelRegistry, `concurrency` tasks calling infer()."""
    from ml_engine.config import MlEngineSettings
    from ml_engine.models.serving.activation import VersionActivation
    from ml_engine.models.serving.registry import ModelRegistry

    async def run() -> BatchingRow:
        settings = MlEngineSettings(
            _env_file=None,
            model_path=repo,
            ml_batching=batching,
            ml_execution_provider=provider,
            ml_model_watch_interval_s=0,
        )
        registry = ModelRegistry(Path(settings.model_path))
        activation = VersionActivation(registry, settings)
        await activation.start()
        try:
            x = _model_inputs(registry.metadata(model), 1)
            latencies: list[float] = []
            measuring = False

            async def worker(deadline: float) -> None:
                while (start := time.perf_counter()) < deadline:
                    await registry.infer(model, x)
                    if measuring:
                        latencies.append((time.perf_counter() - start) * 1000)

            await asyncio.gather(*(worker(time.perf_counter() + 1.0) for _ in range(concurrency)))
            measuring = True
            began = time.perf_counter()
            await asyncio.gather(*(worker(began + seconds) for _ in range(concurrency)))
            elapsed = time.perf_counter() - began
        finally:
            await activation.stop()
        latencies.sort()
        return BatchingRow(
            model,
            batching,
            len(latencies),
            elapsed,
            len(latencies) / elapsed,
            percentile(latencies, 0.5),
            percentile(latencies, 0.99),
        )

    return asyncio.run(run())


STAGES = ("queue wait", "store read", "features", "inference", "serialisation")


@dataclass
class StageRow:
    batching: bool
    concurrency: int
    requests: int
    rps: float
    p50_ms: float
    # Mean wall time per request in each stage (ms); what a request waited, not CPU.
    stages_ms: dict[str, float] = field(default_factory=dict)


class _StageClock:
    """Wall time per stage, summed over the measured requests (the wrappers below feed it)."""

    def __init__(self) -> None:
        self.on = False
        self.totals = dict.fromkeys(STAGES, 0.0)
        self.submitted_s = 0.0  # batcher.submit, queue wait and run together, summed per request

    def add(self, stage: str, seconds: float) -> None:
        if self.on:
            self.totals[stage] += seconds

    def timed(self, stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(stage, time.perf_counter() - start)

        return run


def _instrument(clock: _StageClock, forecaster: Any) -> None:
    """Wraps the steps of an on-demand Predict in timers, in this process only: the store reads
    (the symbol and its last bar, the bar window), the features, each model run (a batch's run
    counts once for every request in it) and the batcher's queueing (from queued to the result, less
    the run, is the queue wait)."""
    from ml_engine.models.serving import batcher
    from ml_engine.predictions import forecaster as forecaster_module

    forecaster._resolve_with_last_bar = clock.timed("store read", forecaster._resolve_with_last_bar)
    forecaster.windows.latest = clock.timed("store read", forecaster.windows.latest)
    forecaster_module.compute_features = clock.timed("features", forecaster_module.compute_features)
    original_init, original_enqueue = batcher.MicroBatcher.__init__, batcher.MicroBatcher.enqueue

    def init(self: Any, run: Any, *args: Any, **kwargs: Any) -> None:
        def timed_run(x: Any) -> Any:
            start = time.perf_counter()
            try:
                return run(x)
            finally:
                clock.add("inference", (time.perf_counter() - start) * len(x))

        original_init(self, timed_run, *args, **kwargs)

    def enqueue(self: Any, x: Any) -> Any:
        start = time.perf_counter()
        future = original_enqueue(self, x)

        def done(_: Any) -> None:
            if clock.on:
                clock.submitted_s += time.perf_counter() - start

        future.add_done_callback(done)
        return future

    batcher.MicroBatcher.__init__ = init  # type: ignore[method-assign]
    batcher.MicroBatcher.enqueue = enqueue  # type: ignore[method-assign]


def _stage_breakdown(repo: str, provider: str, batching: bool, concurrency: int, seconds: float) -> StageRow:
    """Entry point of a process: the ML engine's Forecaster in process (bundled sample bars in a
    throwaway SQLite store, every committed model, no latest-bar cache), `concurrency` tasks each
    running Predict(EURUSD, all horizons) and serialising its answer as the handler does."""
    from ml_engine.config import MlEngineSettings
    from ml_engine.market_data.bar_cache import BarCache
    from ml_engine.market_data.bar_windows import BarWindows
    from ml_engine.market_data.importing.importer import load_missing_samples
    from ml_engine.models.serving.activation import VersionActivation
    from ml_engine.models.serving.registry import ModelRegistry
    from ml_engine.predictions.domain.ensemble import load_manifest
    from ml_engine.predictions.domain.horizons import parse_horizons
    from ml_engine.predictions.forecaster import Forecaster
    from ml_engine.predictions.handlers import horizon_prediction_proto
    from ml_engine.shared.database import MarketStore
    from trading.ml.v1 import prediction_service_pb2

    clock = _StageClock()

    async def run() -> StageRow:
        tmp = Path(tempfile.mkdtemp(prefix="bench-stages-"))
        settings = MlEngineSettings(
            _env_file=None,
            model_path=repo,
            ml_batching=batching,
            ml_execution_provider=provider,
            ml_model_watch_interval_s=0,
            market_sqlite_path=str(tmp / "market.db"),
        )
        store = MarketStore(settings.market_database_url)
        store.migrate()
        load_missing_samples(store.engine)
        registry = ModelRegistry(Path(settings.model_path))
        activation = VersionActivation(registry, settings)
        windows = BarWindows(store.engine, BarCache(settings.ml_bar_cache_max_bars))
        forecaster = Forecaster(windows, registry, load_manifest(Path(repo)))
        _instrument(clock, forecaster)
        await activation.start()
        horizons = parse_horizons("all")
        latencies: list[float] = []

        async def predict() -> None:
            forecast = await forecaster.predict(SYMBOL, horizons)
            start = time.perf_counter()
            prediction_service_pb2.PredictResponse(
                symbol=forecast.symbol,
                predictions=[horizon_prediction_proto(f, 0.8) for f in forecast.predictions],
                skipped=forecast.skipped,
            ).SerializeToString()
            clock.add("serialisation", time.perf_counter() - start)

        async def worker(deadline: float) -> None:
            while (start := time.perf_counter()) < deadline:
                await predict()
                if clock.on:
                    latencies.append((time.perf_counter() - start) * 1000)

        try:
            await asyncio.gather(*(worker(time.perf_counter() + 1.0) for _ in range(concurrency)))
            clock.on = True
            began = time.perf_counter()
            await asyncio.gather(*(worker(began + seconds) for _ in range(concurrency)))
            elapsed = time.perf_counter() - began
            clock.on = False
        finally:
            await activation.stop()
        latencies.sort()
        n = max(1, len(latencies))
        clock.totals["queue wait"] = max(0.0, clock.submitted_s - clock.totals["inference"])
        return StageRow(
            batching,
            concurrency,
            len(latencies),
            len(latencies) / elapsed,
            percentile(latencies, 0.5),
            {stage: clock.totals[stage] * 1000 / n for stage in STAGES},
        )

    return asyncio.run(run())


def part_c_stages(repo: Path, provider: str, seconds: float, concurrency: int = 64) -> list[StageRow]:
    return [
        in_subprocess(_stage_breakdown, str(repo), provider, batching, concurrency, seconds)
        for batching in (True, False)
    ]


def render_c_stages(rows: list[StageRow]) -> str:
    lines = [
        "#### c. Where an on-demand Predict (all horizons, 18 model runs) spends its time, in process",
        "",
        "| batching | conc | req/s | p50 ms | " + " | ".join(f"{s} ms" for s in STAGES) + " |",
        "|---|---:|---:|---:|" + "---:|" * len(STAGES),
    ]
    for r in rows:
        stages = " | ".join(f"{r.stages_ms[s]:.2f}" for s in STAGES)
        lines.append(
            f"| {'on' if r.batching else 'off'} | {r.concurrency} | {r.rps:.0f} | {r.p50_ms:.1f} | {stages} |"
        )
    lines += [
        "",
        "Mean wall time per request in each stage (summed over the members, which run concurrently, so "
        "the stages can add up to more than the request's time). inference: a model run, counted once for "
        "every request in its batch; queue wait: from queueing on the batcher to the result, less the run "
        "(waiting for a batch to form or for the run before it, and the hop to the worker thread when "
        "batching is off); store read: "
        "the symbol, its last bar and the bar window (cached after the first read); serialisation: the "
        "PredictResponse built and serialised as the handler does.",
    ]
    return "\n".join(lines)


def part_c_in_process(repo: Path, horizon: str, provider: str, seconds: float) -> list[BatchingRow]:
    rows = []
    for model in (f"{horizon}_gru", f"{horizon}_transformer", f"{horizon}_xgb_range_high"):
        for batching in (True, False):
            row: BatchingRow = in_subprocess(
                _registry_throughput, str(repo), provider, model, batching, 64, seconds
            )
            rows.append(row)
            print(
                f"  c {model} batching={batching}: {row.rps:.0f} infer/s p50 {row.p50_ms:.2f} ms", flush=True
            )
    return rows


def render_c(rows: list[BatchingRow], engine: list[CellResult], batch_size: float = 0.0) -> str:
    lines = ["### c. Micro-batching at concurrency 64, with vs without", ""]
    if rows:
        lines += [
            "In process: one `ModelRegistry` per setting (ML_BATCHING=true / false), 64 asyncio tasks "
            "calling `infer` with one row each.",
            "",
            "| model | batching | infer/s | p50 ms | p99 ms | throughput ratio |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for row in rows:
            off = next(r for r in rows if r.model == row.model and not r.batching)
            ratio = f"{row.rps / off.rps:.2f}x" if row.batching else "1.00x"
            lines.append(
                f"| {row.model} | {'on' if row.batching else 'off'} | {row.rps:.0f} | {row.p50_ms:.2f} | "
                f"{row.p99_ms:.2f} | {ratio} |"
            )
    if engine:
        on_rps = [r.rps for r in engine if r.label == "batching on"]
        off_rps = [r.rps for r in engine if r.label == "batching off"]
        lines += [
            "",
            "End to end: Predict (horizon=all) over direct gRPC at c=64, to the stack's ML engine "
            "(ML_BATCHING=true) and to a second one beside it (false), loaded in turn, the order "
            "alternating every round; both with ML_PREDICTION_CACHE_SIZE=0 (every request runs the models).",
            "",
            "| ML engine | req/s | p50 ms | p99 ms | errors |",
            "|---|---:|---:|---:|---:|",
        ]
        for r in engine:
            lines.append(f"| {r.label} | {r.rps:.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.errors} |")
        if on_rps and off_rps and min(off_rps) > 0:
            per_round = " ".join(f"{a / b:.2f}x" for a, b in zip(on_rps, off_rps, strict=False))
            medians = statistics.median(on_rps) / statistics.median(off_rps)
            lines.append(
                f"\nthroughput ratio on/off: {medians:.2f}x (medians); "
                f"per round {per_round}; mean batch size (batched engine) {batch_size:.1f}"
            )
    return "\n".join(lines)


# =================================================================== e: latest bar, cached vs on demand

E_CACHED = "cached"
E_ON_DEMAND = "on demand"
E_FLOOR = "GetStats"


def _cpu_text(r: CellResult) -> str:
    cores = {**{k: v for k, v in r.stack_cpu.items() if v >= 0.01}, "loadgen": r.loadgen_cpu}
    return ", ".join(f"{k} {v:.2f}" for k, v in sorted(cores.items(), key=lambda kv: -kv[1]))


def render_e(results: list[CellResult]) -> str:
    lines = [
        "### e. Latest-bar Predict (horizon=all, EURUSD, no as_of): cached vs on demand",
        "",
        "The ML engine with ML_PREDICTION_CACHE_SIZE at its default (cached), then restarted with 0 "
        "(on demand: every request reads the bars and runs the models). GetStats: EngineService.GetStats "
        "(the RPC of `make bench-edge`; it builds every model's latency percentiles, so it is not free) on "
        "the same path and engine, alternating with the cached cells, as a reference. CPU in cores over "
        "the measured window, busiest first.",
        "",
        "| path | conc | ML engine (RPC) | p50 ms | p99 ms | req/s | errors | CPU (cores) |",
        "|---|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.path} | {r.concurrency} | {r.label} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.rps:.0f} | "
            f"{r.errors} | {_cpu_text(r)} |"
        )
    lines += [
        "",
        "| path | conc | p50 on demand / cached | req/s cached / on demand | req/s cached / GetStats |",
        "|---|---:|---:|---:|---:|",
    ]

    def twin(cell: CellResult, label: str) -> CellResult | None:
        key = (cell.path, cell.concurrency)
        return next((r for r in results if r.label == label and (r.path, r.concurrency) == key), None)

    for cached in (r for r in results if r.label == E_CACHED):
        other, floor = twin(cached, E_ON_DEMAND), twin(cached, E_FLOOR)
        if other is None or not cached.p50_ms or not other.rps:
            continue
        vs_floor = f"{cached.rps / floor.rps:.2f}x" if floor is not None and floor.rps else "-"
        lines.append(
            f"| {cached.path} | {cached.concurrency} | {other.p50_ms / cached.p50_ms:.1f}x | "
            f"{cached.rps / other.rps:.1f}x | {vs_floor} |"
        )
    return "\n".join(lines)


# =========================================================================== d: streaming fan-out


@dataclass
class FanoutSpec:
    subscribers: int
    bars: int
    token: str
    envoy_port: int
    timeout_s: float
    transport: str = "grpc-web"
    stack_pids: dict[str, int] = field(default_factory=dict)


@dataclass
class FanoutResult:
    transport: str
    subscribers: int
    connected: int
    completed: int
    samples: int
    distinct_bars: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    connect_s: float
    first_message_p50_s: float = float("nan")
    first_message_max_s: float = float("nan")
    errors: list[str] = field(default_factory=list)
    # RSS growth per subscriber (KiB) of each stack process, once every subscriber is streaming.
    rss_kib_per_subscriber: dict[str, float] = field(default_factory=dict)
    # CPU time of each stack process while the bars streamed, per message a subscriber received (µs).
    cpu_us_per_message: dict[str, float] = field(default_factory=dict)


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class FanoutState:
    ready_at: float = float("inf")  # wall-clock time by which every subscriber had sent its request
    connected: int = 0  # requests sent
    first_message_s: list[float] = field(default_factory=list)  # request sent -> first message
    latencies: list[float] = field(default_factory=list)
    bars_seen: set[int] = field(default_factory=set)
    finished: int = 0  # subscribers that have all their bars


@dataclass
class _Receiver:
    """One subscriber's count of the messages that were published after every subscriber was
    connected; `seen` answers True once it has `spec.bars` of them."""

    spec: FanoutSpec
    state: FanoutState
    sent_at: float = field(default_factory=time.perf_counter)
    counted: int = 0
    first: bool = True

    def seen(self, published: float, bar_time: int, received_at: float) -> bool:
        if self.first:
            self.state.first_message_s.append(time.perf_counter() - self.sent_at)
            self.first = False
        # Bars published while subscribers were still connecting would measure the ramp.
        if published > self.state.ready_at:
            self.state.latencies.append((received_at - published) * 1000)
            self.state.bars_seen.add(bar_time)
            self.counted += 1
        if self.counted >= self.spec.bars:
            self.state.finished += 1
            return True
        return False


async def _subscribe_grpc(spec: FanoutSpec, state: FanoutState, channel: Any) -> str | None:
    """One native gRPC subscriber on a shared HTTP/2 connection through Envoy."""
    import grpc

    from trading.ml.v1 import prediction_service_pb2, prediction_service_pb2_grpc

    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    call = stub.StreamPredictions(
        prediction_service_pb2.StreamPredictionsRequest(symbol=SYMBOL, timeframe="1h"),
        metadata=(("authorization", f"Bearer {spec.token}"),),
    )
    state.connected += 1
    receiver = _Receiver(spec, state)
    try:
        async for message in call:
            received_at = time.time()
            published = message.published_at.ToNanoseconds() / 1e9
            if receiver.seen(published, message.bar_time.seconds, received_at):
                return None
    except grpc.aio.AioRpcError as error:
        return f"{error.code().name}: {error.details()}"
    finally:
        call.cancel()
    return "stream ended"


async def _subscribe_ws(spec: FanoutSpec, state: FanoutState) -> str | None:
    """One WebSocket subscriber to the gateway's bridge through Envoy (JSON messages)."""
    from websockets.asyncio.client import connect

    url = f"ws://127.0.0.1:{spec.envoy_port}/ws/{SYMBOL}?timeframe=1h&access_token={spec.token}"
    async with connect(url, open_timeout=60, max_queue=None) as socket_:
        state.connected += 1
        receiver = _Receiver(spec, state)
        async for text in socket_:
            received_at = time.time()
            message = json.loads(text)
            published = datetime.fromisoformat(message["publishedAt"]).timestamp()
            bar_time = int(datetime.fromisoformat(message["barTime"]).timestamp())
            if receiver.seen(published, bar_time, received_at):
                return None
    return "stream ended"


async def _subscribe(spec: FanoutSpec, state: FanoutState) -> str | None:
    """One gRPC-Web subscriber over raw HTTP/1.1 (what a browser sends); None once it received
    `spec.bars` messages published after every subscriber was connected."""
    from trading.ml.v1 import prediction_service_pb2

    payload = prediction_service_pb2.StreamPredictionsRequest(
        symbol=SYMBOL, timeframe="1h"
    ).SerializeToString()
    body = struct.pack(">BI", 0, len(payload)) + payload
    reader, writer = await asyncio.open_connection("127.0.0.1", spec.envoy_port)
    try:
        sent_at = time.perf_counter()
        writer.write(
            (
                f"POST {STREAM_METHOD} HTTP/1.1\r\nHost: 127.0.0.1:{spec.envoy_port}\r\n"
                f"Authorization: Bearer {spec.token}\r\nContent-Type: application/grpc-web+proto\r\n"
                f"X-Grpc-Web: 1\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            + body
        )
        await writer.drain()
        state.connected += 1
        # gRPC sends the response headers with the first message: this waits for the first bar.
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            return f"HTTP status: {head[:200]!r}"
        if b"grpc-status:" in head.lower():
            return f"trailers-only answer: {head[:300]!r}"
        buffer = b""
        receiver = _Receiver(spec, state, sent_at)
        while True:
            # Envoy streams the gRPC-Web body to an HTTP/1.1 client in chunks.
            size = int((await reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
            if size == 0:
                return "stream ended"
            buffer += await reader.readexactly(size)
            await reader.readexactly(2)
            received_at = time.time()
            while len(buffer) >= 5:
                flags, length = struct.unpack(">BI", buffer[:5])
                if len(buffer) < 5 + length:
                    break
                frame, buffer = buffer[5 : 5 + length], buffer[5 + length :]
                if flags & 0x80:
                    return f"stream ended: {frame[:200]!r}"
                message = prediction_service_pb2.StreamPredictionsResponse.FromString(frame)
                published = message.published_at.ToNanoseconds() / 1e9
                if receiver.seen(published, message.bar_time.seconds, received_at):
                    return None
    finally:
        writer.close()


def _subscriber_tasks(spec: FanoutSpec, state: FanoutState, channels: list[Any]) -> list[asyncio.Task[Any]]:
    if spec.transport == "grpc":
        import grpc

        target = f"127.0.0.1:{spec.envoy_port}"
        # A channel option that differs per channel keeps grpc from sharing one connection.
        count = -(-spec.subscribers // STREAMS_PER_CHANNEL)
        channels += [grpc.aio.insecure_channel(target, options=[("bench.channel", n)]) for n in range(count)]
        return [
            asyncio.create_task(_subscribe_grpc(spec, state, channels[i // STREAMS_PER_CHANNEL]))
            for i in range(spec.subscribers)
        ]
    subscribe = _subscribe_ws if spec.transport == "ws" else _subscribe
    return [asyncio.create_task(subscribe(spec, state)) for _ in range(spec.subscribers)]


async def _rss_when_streaming(
    spec: FanoutSpec, state: FanoutState, before: dict[str, int]
) -> dict[str, float]:
    """RSS growth per streaming subscriber, once every subscriber has had its first message (or
    the first one has all its bars and leaves, when some never get one)."""
    while len(state.first_message_s) < spec.subscribers and not state.finished:
        await asyncio.sleep(0.05)
    streaming = max(1, len(state.first_message_s))
    return {n: (_rss_kib(p) - before[n]) / streaming for n, p in spec.stack_pids.items()}


async def _fanout(spec: FanoutSpec) -> FanoutResult:
    state = FanoutState()
    rss_before = {n: _rss_kib(p) for n, p in spec.stack_pids.items()}
    rss = asyncio.create_task(_rss_when_streaming(spec, state, rss_before))
    began = time.perf_counter()
    channels: list[Any] = []
    tasks = _subscriber_tasks(spec, state, channels)
    connect_deadline = time.perf_counter() + 60
    while state.connected < spec.subscribers and time.perf_counter() < connect_deadline:
        if all(t.done() for t in tasks):
            break
        await asyncio.sleep(0.01)
    connect_s = time.perf_counter() - began
    state.ready_at = time.time()
    cpu_before = {n: _cpu_seconds(p) for n, p in spec.stack_pids.items()}
    done, pending = await asyncio.wait(tasks, timeout=spec.timeout_s)
    delivered = max(1, len(state.latencies))
    cpu_us = {n: (_cpu_seconds(p) - cpu_before[n]) * 1e6 / delivered for n, p in spec.stack_pids.items()}
    rss_per_subscriber = rss.result() if rss.done() else {}
    rss.cancel()
    for channel in channels:
        await channel.close()
    for task in pending:
        task.cancel()
    errors: list[str] = []
    completed = 0
    for task in done:
        problem = task.exception() or task.result()
        if problem is None:
            completed += 1
        else:
            errors.append(str(problem)[:300])
    if pending:
        errors.append(f"{len(pending)} subscribers timed out after {spec.timeout_s:.0f} s")
    latencies, firsts = sorted(state.latencies), sorted(state.first_message_s)
    return FanoutResult(
        spec.transport,
        spec.subscribers,
        state.connected,
        completed,
        len(latencies),
        len(state.bars_seen),
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
        latencies[-1] if latencies else float("nan"),
        connect_s,
        percentile(firsts, 0.5),
        firsts[-1] if firsts else float("nan"),
        errors[:5],
        rss_per_subscriber,
        cpu_us,
    )


def run_fanout(spec: FanoutSpec) -> FanoutResult:
    """Entry point of the subscribers' process."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 2 * spec.subscribers + 256)), hard))
    return asyncio.run(_fanout(spec))


def per_stack_process(values: dict[str, float]) -> str:
    """`values` of the ML engine, Envoy and the gateway, in that order ("-" when not measured)."""
    if not values:
        return "-"
    return ", ".join(f"{values.get(n, float('nan')):.1f}" for n in ("ml_engine", "envoy", "gateway"))


def render_d(results: list[FanoutResult], bars: int) -> str:
    lines = [
        f"### d. Streaming fan-out through Envoy, StreamPredictions({SYMBOL}, 1h)",
        "",
        "| transport | subscribers | subscribed | completed | bars | samples | p50 ms | p99 ms | max ms "
        "| subscribe s | first message p50 / max s | KiB per subscriber (ml_engine, envoy, gateway) "
        "| CPU µs per message (ml_engine, envoy, gateway) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        memory = per_stack_process(r.rss_kib_per_subscriber)
        cpu = per_stack_process(r.cpu_us_per_message)
        lines.append(
            f"| {r.transport} | {r.subscribers} | {r.connected} | {r.completed} | "
            f"{r.distinct_bars} (of {bars} asked) | {r.samples} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | "
            f"{r.max_ms:.1f} | {r.connect_s:.1f} | "
            f"{r.first_message_p50_s:.1f} / {r.first_message_max_s:.1f} | {memory} | {cpu} |"
        )
    lines += [
        "",
        "Latency: subscriber receive time - the message's published_at (same host clock); the "
        "subscribers run in one Python process on the same cores as the stack. Only bars published after "
        "every subscriber had sent its request count. subscribe s: time to open every connection and send "
        "every request; first message: request sent -> first message received. Memory: RSS growth of each "
        "stack process from before the first subscriber to when every subscriber had its first message "
        "(or the first had all its bars), divided by the subscribers streaming then (the gateway carries "
        "only WebSocket subscribers; a process reuses memory a previous row freed, so read it as a bound "
        "from below). CPU: each stack process's CPU time from then until the last subscriber had its bars, "
        "per message the subscribers received (what one more subscriber costs per bar).",
    ]
    return "\n".join(lines)


# =========================================================================== stack + main


def mint_token(keys_dir: Path, issuer: str, audience: str) -> str:
    from service_runtime.signing_keys import SigningKeyStore

    store = SigningKeyStore(keys_dir)
    store.ensure()
    now = int(time.time())
    return store.sign(
        {
            "iss": issuer,
            "aud": audience,
            "sub": "bench",
            "roles": ["user"],
            "plan": "pro",  # every horizon and the stream are pro's
            "iat": now,
            "nbf": now - 5,
            "exp": now + 3600,
            "jti": uuid.uuid4().hex,
        }
    )


def stack_env(tmp: Path, provider: str) -> dict[str, str]:
    """A private stack's environment, plus what this bench needs: the bundled market samples (unless
    the caller's environment says otherwise), an ML rate limit it never reaches, the provider, batching."""
    env = private_stack_env(tmp, PORTS, f"sqlite:///{tmp / 'business.db'}")
    env.update(
        {
            "ML_RATE_LIMIT_PRO": "100000000",
            "MARKET_SQLITE_PATH": os.environ.get("MARKET_SQLITE_PATH", str(tmp / "market.db")),
            "LOAD_SAMPLE_DATA": os.environ.get("LOAD_SAMPLE_DATA", "true"),
            "ML_EXECUTION_PROVIDER": provider,
            "ML_BATCHING": "true",
        }
    )
    return env


def wait_for_predictions(token: str, timeout_s: float = 120, target: str = "") -> None:
    """Until Predict answers (models loaded, warm-up done), or raise with the last answer."""
    import grpc

    from trading.ml.v1 import prediction_service_pb2, prediction_service_pb2_grpc

    deadline = time.monotonic() + timeout_s
    last = ""
    with grpc.insecure_channel(target or f"127.0.0.1:{PORTS['ML_GRPC_PORT']}") as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        while time.monotonic() < deadline:
            try:
                stub.Predict(
                    prediction_service_pb2.PredictRequest(symbol=SYMBOL, horizon="all"),
                    metadata=(("authorization", f"Bearer {token}"),),
                    timeout=10,
                )
                return
            except grpc.RpcError as error:
                last = f"{error.code().name}: {error.details()}"
            time.sleep(0.5)
    raise RuntimeError(f"Predict not answering after {timeout_s:.0f} s: {last}")


@dataclass
class Report:
    parts: list[str]
    provider: str
    a: list[KernelRow] = field(default_factory=list)
    b: list[CellResult] = field(default_factory=list)
    c: list[BatchingRow] = field(default_factory=list)
    c_engine: list[CellResult] = field(default_factory=list)
    c_batch_size: float = 0.0
    c_stages: list[StageRow] = field(default_factory=list)
    d: list[FanoutResult] = field(default_factory=list)
    e: list[CellResult] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def load_cell(
    args: argparse.Namespace, report: Report, stack: Any, token: str, path: str, conc: int, label: str
) -> CellResult:
    """One Predict load cell in its own process, against the running stack."""
    pids = {name: child.process.pid for name, child in stack.children.items() if child.process}
    ml_target = f"127.0.0.1:{PORTS['ML_GRPC_PORT']}"
    spec = CellSpec(path, conc, args.seconds, args.warmup, token, ml_target, PORTS["ENVOY_PORT"], label, pids)
    result: CellResult = in_subprocess(run_cell, spec)
    print(
        f"  {label or 'b'} {path:<12} c={conc:<3} p50 {result.p50_ms:7.2f} ms p99 {result.p99_ms:7.2f} ms "
        f"{result.rps:7.0f} req/s errors {result.errors}  CPU {_cpu_text(result)}",
        flush=True,
    )
    if result.errors or not result.requests:
        report.failures.append(f"{path} c={conc} {label}: {result.errors} errors ({result.first_error})")
    return result


def fanout_part(args: argparse.Namespace, report: Report, token: str, pids: dict[str, int]) -> None:
    for subscribers in args.subscribers:
        for transport in args.transports:
            spec = FanoutSpec(
                subscribers, args.bars, token, PORTS["ENVOY_PORT"], args.fanout_timeout, transport, pids
            )
            print(f"  d: {transport} {subscribers} subscribers, {args.bars} bars ...", flush=True)
            result: FanoutResult = in_subprocess(run_fanout, spec)
            print(
                f"  d: {transport} {subscribers}: p50 {result.p50_ms:.1f} ms p99 {result.p99_ms:.1f} ms, "
                f"completed {result.completed}/{result.subscribers}, KiB per subscriber "
                f"{ {n: round(v, 1) for n, v in result.rss_kib_per_subscriber.items()} }",
                flush=True,
            )
            report.d.append(result)
            if result.errors or result.completed < result.subscribers:
                report.failures.append(
                    f"fan-out {transport} {subscribers}: {result.completed}/{result.subscribers} completed; "
                    f"{result.errors}"
                )


def mean_batch_size(target: str, token: str) -> float:
    """Requests per session run over the engine's models that ran (its GetStats)."""
    import grpc

    from trading.ml.v1 import engine_service_pb2, engine_service_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        stats = engine_service_pb2_grpc.EngineServiceStub(channel).GetStats(
            engine_service_pb2.GetStatsRequest(), metadata=(("authorization", f"Bearer {token}"),), timeout=10
        )
    sizes = [m.mean_batch_size for m in stats.models if m.batches]
    return sum(sizes) / len(sizes) if sizes else 0.0


def batching_side_by_side(
    args: argparse.Namespace, report: Report, stack: Any, token: str, tmp: Path
) -> None:
    """Part c end to end: the stack's engine (batching on) and an unbatched one beside it, loaded
    in turn, the order alternating every round."""
    shutil.copy(tmp / "market.db", tmp / "market-unbatched.db")  # its own SQLite writer
    (port,) = free_ports(1)
    env = dict(stack.env, ML_GRPC_PORT=str(port), ML_BATCHING="false", LOAD_SAMPLE_DATA="false")
    env["MARKET_SQLITE_PATH"] = str(tmp / "market-unbatched.db")
    with open(tmp / "logs" / "ml_engine-unbatched.log", "wb") as log:
        unbatched = subprocess.Popen(
            [sys.executable, "-m", "ml_engine.main"], env=env, stdout=log, stderr=log
        )
    try:
        targets = {"batching on": f"127.0.0.1:{PORTS['ML_GRPC_PORT']}", "batching off": f"127.0.0.1:{port}"}
        wait_for_predictions(token, target=targets["batching off"])
        for round_ in range(args.batching_rounds):
            for label in sorted(targets, reverse=round_ % 2 == 0):
                spec = CellSpec("grpc-direct", 64, args.seconds, args.warmup, token, targets[label], 0, label)
                result: CellResult = in_subprocess(run_cell, spec)
                print(
                    f"  c {label:<12} round {round_ + 1}: {result.rps:7.0f} req/s errors {result.errors}",
                    flush=True,
                )
                report.c_engine.append(result)
        report.c_batch_size = mean_batch_size(targets["batching on"], token)
    finally:
        unbatched.kill()
        unbatched.wait()


def run_stack_parts(args: argparse.Namespace, report: Report) -> None:
    from tools.supervisor import Stack

    tmp = Path(tempfile.mkdtemp(prefix="bench-ml-"))
    stack = Stack(env=stack_env(tmp, args.provider), log_dir=tmp / "logs")
    token = mint_token(tmp / "keys", stack.edge.jwt_issuer, stack.edge.jwt_audience)
    print(f"starting stack (logs in {tmp / 'logs'}) ...", flush=True)

    def cell(path: str, conc: int, label: str = "") -> CellResult:
        return load_cell(args, report, stack, token, path, conc, label)

    def restart_engine(**env: str) -> None:
        stack.children["ml_engine"].stop()
        stack.env.update(env)
        stack.start_child("ml_engine", timeout_s=180)
        wait_for_predictions(token)

    try:
        stack.start(timeout_s=180)
        wait_for_predictions(token)
        if "b" in report.parts:
            for conc in args.concurrency:
                for path in ("grpc-direct", "rest-envoy"):
                    report.b.append(cell(path, conc))
        if "d" in report.parts:
            pids = {name: child.process.pid for name, child in stack.children.items() if child.process}
            fanout_part(args, report, token, pids)
        e_cells = (
            [(p, c) for c in (1, 64) for p in ("rest-envoy", "grpc-direct")] if "e" in report.parts else []
        )
        report.e += [cell(p, c, label) for p, c in e_cells for label in (E_CACHED, E_FLOOR)]
        if {"c", "e"} & set(report.parts):
            # On demand from here on: part c measures batching of predictions that run the models.
            restart_engine(ML_PREDICTION_CACHE_SIZE="0")
        report.e += [cell(p, c, E_ON_DEMAND) for p, c in e_cells]
        if "c" in report.parts:
            batching_side_by_side(args, report, stack, token, tmp)
        dead = [name for name, child in stack.children.items() if not child.running]
        report.failures += [f"{name} died during the benchmark (logs in {tmp / 'logs'})" for name in dead]
    finally:
        stack.stop()


def render(report: Report, args: argparse.Namespace) -> str:
    cpu = platform.processor() or platform.machine()
    lines = [
        f"## ML serving (`make bench-ml`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Command: `python -m bench.ml --only {','.join(report.parts)} --seconds {args.seconds:g}`. "
        f"Machine: {os.cpu_count()} CPU cores ({cpu}), provider {report.provider}; load generators, "
        "Envoy and the services share the cores.",
        "",
    ]
    if report.a:
        lines += [render_a(report.a, report.provider, args.threads), ""]
    if report.b:
        lines += [render_b(report.b), ""]
    if report.c or report.c_engine:
        lines += [render_c(report.c, report.c_engine, report.c_batch_size), ""]
    if report.c_stages:
        lines += [render_c_stages(report.c_stages), ""]
    if report.d:
        lines += [render_d(report.d, args.bars), ""]
    if report.e:
        lines += [render_e(report.e), ""]
    if report.failures:
        lines += ["Failures: " + "; ".join(report.failures), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", default=",".join(PARTS), help="parts to run, e.g. a,b (default: all)")
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per cell")
    parser.add_argument(
        "--batching-rounds",
        type=int,
        default=4,
        help="part c end to end: rounds of batched and unbatched cells",
    )
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per load cell")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument(
        "--subscribers",
        type=int,
        nargs="+",
        default=[500],
        help="part d: subscriber counts (e.g. 500 2000 5000)",
    )
    parser.add_argument(
        "--transports",
        nargs="+",
        choices=TRANSPORTS,
        default=["grpc-web"],
        help="part d: how subscribers connect",
    )
    parser.add_argument("--bars", type=int, default=5, help="bars each subscriber waits for")
    parser.add_argument("--fanout-timeout", type=float, default=180.0)
    parser.add_argument("--horizon", default="intraday", help="horizon whose models part a and c use")
    parser.add_argument("--provider", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="threads per runtime in part a")
    parser.add_argument("--model-path", type=Path, default=ROOT / "ml_engine" / "model_repository")
    parser.add_argument("--no-append", action="store_true", help="do not append to bench/RESULTS.md")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts {unknown}; choose from {','.join(PARTS)}")
    report = Report(parts, args.provider)
    # Each part runs on its own: one that cannot run is reported and the others still run.
    if "a" in parts:
        try:
            report.a = part_a(args.model_path, args.horizon, args.seconds, args.provider, args.threads)
        except Exception as error:  # report and go on with the other parts
            report.failures.append(f"a: {type(error).__name__}: {error}")
    if "c" in parts:
        try:
            report.c = part_c_in_process(args.model_path, args.horizon, args.provider, args.seconds)
        except Exception as error:  # report and go on with the other parts
            report.failures.append(f"c (in process): {type(error).__name__}: {error}")
        try:
            report.c_stages = part_c_stages(args.model_path, args.provider, args.seconds)
        except Exception as error:  # report and go on with the other parts
            report.failures.append(f"c (stages): {type(error).__name__}: {error}")
    if {"b", "d", "e"} & set(parts):  # c end to end rides along when the stack runs anyway
        try:
            run_stack_parts(args, report)
        except Exception as error:  # report and go on with the other parts
            report.failures.append(f"stack parts: {type(error).__name__}: {error}")
    text = render(report, args)
    print()
    print(text)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"ml-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(
        json.dumps(
            {"cpu_count": os.cpu_count(), "python": sys.version.split()[0], **asdict(report)},
            indent=2,
            default=str,
        )
    )
    if not args.no_append:
        with RESULTS_MD.open("a") as results:
            results.write("\n" + text)
    print(f"\nwrote {out}" + ("" if args.no_append else f" and appended to {RESULTS_MD}"))
    if report.failures:
        for failure in report.failures:
            print(f"FAILED {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
