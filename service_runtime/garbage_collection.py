"""The cyclic garbage collector in a service process: what start-up made is kept out of its passes.

A service imports hundreds of modules, generated message classes, an ORM's mappers, its models; all
of it lives as long as the process. Python's full collection (generation 2) walks every tracked
object, holding the GIL while it does, so every request in flight waits. Under bench.ml's
Predict load (parts c and e) the ML engine paused 130-160 ms for a full collection every 6-17 s
(timed with gc.callbacks). `gc.freeze()` moves every object alive at that moment to a permanent
generation that no collection visits; after it, under the same load, no collection of any
generation took over 2 ms. Garbage made later is collected as before. A cycle among the frozen
objects that became garbage later would stay: start-up objects live as long as the process.

Called once per process, when it serves (service_runtime/server.py `run_service`, the gateway's
`main`), never from a library or a test process. What a service retires is freed by reference
counting, frozen or not: a model version loaded at start-up and swapped out after the freeze is
released (tests/ml_engine/models/serving/test_frozen_versions.py).
"""

from __future__ import annotations

import gc
import logging

from prometheus_client import Gauge

log = logging.getLogger(__name__)

FROZEN_OBJECTS = Gauge(
    "python_gc_frozen_objects", "Objects alive after start-up, kept out of garbage collection passes"
)


def freeze_startup_objects() -> int:
    """Collects once, then freezes what is left; the number of objects frozen."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    FROZEN_OBJECTS.set(frozen)
    log.info("start-up objects frozen out of garbage collection", extra={"objects": frozen})
    return frozen
