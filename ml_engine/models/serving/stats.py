"""Per-model serving counters for GetStats: requests, latency percentiles, batch sizes."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

import numpy as np

# Latency samples kept per model: enough for a stable p99, bounded whatever the traffic.
RESERVOIR_SIZE = 4096


@dataclass(frozen=True)
class StatsSnapshot:
    requests: int
    failures: int
    latency_p50_ms: float
    latency_p99_ms: float
    batches: int
    mean_batch_size: float
    max_batch_size: int


class ModelStats:
    """Thread-safe: the micro-batcher records from the event loop, direct runs from threads."""

    def __init__(self, reservoir_size: int = RESERVOIR_SIZE) -> None:
        self._lock = threading.Lock()
        self._size = reservoir_size
        self._samples: list[float] = []
        self._seen = 0
        # Reservoir sampling (algorithm R) keeps a uniform sample of every latency ever seen.
        self._random = random.Random(0)
        self.requests = 0
        self.failures = 0
        self.batches = 0
        self.batched_requests = 0
        self.max_batch_size = 0

    def record_batch(self, size: int) -> None:
        with self._lock:
            self.batches += 1
            self.batched_requests += size
            self.max_batch_size = max(self.max_batch_size, size)

    def record_request(self, latency_ms: float, *, failed: bool = False) -> None:
        with self._lock:
            self.requests += 1
            self.failures += int(failed)
            if failed:
                return
            self._seen += 1
            if len(self._samples) < self._size:
                self._samples.append(latency_ms)
            else:
                slot = self._random.randrange(self._seen)
                if slot < self._size:
                    self._samples[slot] = latency_ms

    def snapshot(self) -> StatsSnapshot:
        with self._lock:
            samples = np.asarray(self._samples, dtype=np.float64)
            p50, p99 = (float(v) for v in np.percentile(samples, [50, 99])) if samples.size else (0.0, 0.0)
            mean = self.batched_requests / self.batches if self.batches else 0.0
            return StatsSnapshot(
                self.requests,
                self.failures,
                round(p50, 3),
                round(p99, 3),
                self.batches,
                round(mean, 3),
                self.max_batch_size,
            )
