"""The micro-batcher really batches concurrent requests and gives each caller its own rows."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from ml_engine.models.serving.arrivals import Arrivals
from ml_engine.models.serving.batcher import MicroBatcher
from ml_engine.models.serving.repository import scan
from ml_engine.models.serving.session import load_session
from ml_engine.models.serving.stats import ModelStats
from tests.ml_engine.models.conftest import serving_settings
from tests.ml_engine.models.serving.tiny_models import expected, write


def _session(repo: Path):  # type: ignore[no-untyped-def]
    write(repo, "m", 3)
    return load_session("m", scan(repo)["m"].versions[0], serving_settings(repo))


async def test_concurrent_requests_share_session_runs(repo: Path) -> None:
    session = _session(repo)
    stats = ModelStats()
    batcher = MicroBatcher(session.run, stats, enabled=True, max_size=16, max_delay_s=0.05)
    rows = np.random.default_rng(3).normal(size=(40, 23)).astype(np.float32)
    results = await asyncio.gather(*(batcher.submit(rows[i : i + 1]) for i in range(40)))
    for i, values in enumerate(results):
        assert values.shape == (1, 4)
        np.testing.assert_allclose(values[0], expected(rows[i : i + 1], 3)[0], rtol=1e-5, atol=1e-5)
    snapshot = stats.snapshot()
    assert snapshot.max_batch_size == 16  # capped at max_size
    assert snapshot.batches < 40 and snapshot.mean_batch_size > 1
    await batcher.close()


async def test_multi_row_requests_get_their_own_rows(repo: Path) -> None:
    session = _session(repo)
    batcher = MicroBatcher(session.run, ModelStats(), enabled=True, max_size=16, max_delay_s=0.05)
    parts = [
        np.random.default_rng(i).normal(size=(k, 23)).astype(np.float32) for i, k in enumerate([1, 3, 2, 5])
    ]
    results = await asyncio.gather(*(batcher.submit(p) for p in parts))
    for part, values in zip(parts, results, strict=True):
        np.testing.assert_allclose(values, expected(part, 3), rtol=1e-5, atol=1e-5)
    await batcher.close()


async def test_without_batching_each_request_runs_alone(repo: Path) -> None:
    session = _session(repo)
    stats = ModelStats()
    batcher = MicroBatcher(session.run, stats, enabled=False, max_size=16, max_delay_s=0.05)
    rows = np.random.default_rng(4).normal(size=(10, 23)).astype(np.float32)
    results = await asyncio.gather(*(batcher.submit(rows[i : i + 1]) for i in range(10)))
    for i, values in enumerate(results):
        np.testing.assert_allclose(values[0], expected(rows[i : i + 1], 3)[0], rtol=1e-5, atol=1e-5)
    assert stats.snapshot().max_batch_size == 1 and stats.snapshot().batches == 10


async def test_close_finishes_queued_requests(repo: Path) -> None:
    session = _session(repo)
    batcher = MicroBatcher(session.run, ModelStats(), enabled=True, max_size=4, max_delay_s=0.01)
    rows = np.random.default_rng(5).normal(size=(12, 23)).astype(np.float32)
    pending = [asyncio.ensure_future(batcher.submit(rows[i : i + 1])) for i in range(12)]
    await asyncio.sleep(0)  # every request is queued
    await batcher.close()
    assert all(p.done() and p.exception() is None for p in pending)


# Arrivals. A cap this long never ends a test's wait: a batch that waits for nothing would hang
# the test (asyncio.wait_for below fails it) instead of passing after the cap.
LONG_CAP_S = 60.0


def _announcing_batcher(repo: Path, max_delay_s: float) -> tuple[MicroBatcher, Arrivals]:
    """A batcher of model "m" that waits for the arrivals announced for "m"."""
    arrivals = Arrivals()
    batcher = MicroBatcher(
        _session(repo).run,
        ModelStats(),
        enabled=True,
        max_size=16,
        max_delay_s=max_delay_s,
        arrivals=arrivals.of("m"),
    )
    return batcher, arrivals


async def test_a_batch_waits_for_an_announced_request(repo: Path) -> None:
    batcher, arrivals = _announcing_batcher(repo, LONG_CAP_S)
    stats = batcher.stats
    rows = np.random.default_rng(6).normal(size=(2, 23)).astype(np.float32)
    with arrivals.announced(["m"]) as arrival:
        first = batcher.enqueue(rows[:1])
        for _ in range(5):  # the worker comes round, finds one on its way, and waits
            await asyncio.sleep(0)
        assert not first.done()
        second = batcher.enqueue(rows[1:])
        arrival.land()
    results = await asyncio.wait_for(asyncio.gather(first, second), 5)
    np.testing.assert_allclose(np.concatenate(results), expected(rows, 3), rtol=1e-5, atol=1e-5)
    assert stats.snapshot().batches == 1 and stats.snapshot().max_batch_size == 2
    await batcher.close()


async def test_a_lone_request_does_not_wait_for_the_cap(repo: Path) -> None:
    batcher, arrivals = _announcing_batcher(repo, LONG_CAP_S)
    x = np.random.default_rng(7).normal(size=(1, 23)).astype(np.float32)
    with arrivals.announced(["other_model"]):  # on its way to another model: not waited for
        await asyncio.wait_for(batcher.submit(x), 5)
        await asyncio.wait_for(batcher.submit(x), 5)
    await batcher.close()


async def test_an_announced_request_that_gives_up_releases_the_batch(repo: Path) -> None:
    batcher, arrivals = _announcing_batcher(repo, LONG_CAP_S)
    x = np.random.default_rng(8).normal(size=(1, 23)).astype(np.float32)
    pending = None
    with pytest.raises(RuntimeError), arrivals.announced(["m"]):
        pending = batcher.enqueue(x)
        await asyncio.sleep(0)
        raise RuntimeError("the announced request failed before queueing its input")
    assert pending is not None and arrivals.of("m").coming == 0
    await asyncio.wait_for(pending, 5)
    await batcher.close()


async def test_the_wait_for_arrivals_is_capped(repo: Path) -> None:
    batcher, arrivals = _announcing_batcher(repo, 0.05)
    x = np.random.default_rng(9).normal(size=(1, 23)).astype(np.float32)
    with arrivals.announced(["m"]):  # never lands while the request waits
        await asyncio.wait_for(batcher.submit(x), 5)
    await batcher.close()


def test_stats_percentiles_and_bounded_reservoir() -> None:
    stats = ModelStats(reservoir_size=100)
    for ms in range(1, 1001):
        stats.record_request(float(ms))
    stats.record_request(5.0, failed=True)
    snapshot = stats.snapshot()
    assert snapshot.requests == 1001 and snapshot.failures == 1
    assert len(stats._samples) == 100
    assert 200 < snapshot.latency_p50_ms < 800 and snapshot.latency_p99_ms > snapshot.latency_p50_ms
