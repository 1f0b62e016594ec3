"""freeze_startup_objects, in a process of its own (a freeze in the test process would keep every
later test's start-up objects out of collection too)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

PROBE = textwrap.dedent(
    """
    import gc, weakref
    from prometheus_client import REGISTRY
    from service_runtime.garbage_collection import freeze_startup_objects

    class Node:
        pass

    garbage = Node()
    garbage.itself = garbage  # a cycle: only the collector frees it
    gone = weakref.ref(garbage)
    del garbage
    kept = Node()
    kept.itself = kept
    gc.disable()  # no collection but the one under test
    frozen = freeze_startup_objects()
    assert gone() is None, "garbage made before the freeze was frozen, not collected"
    assert gc.is_tracked(kept) and frozen == gc.get_freeze_count() > 1000, frozen
    assert REGISTRY.get_sample_value("python_gc_frozen_objects") == frozen
    young = gc.get_objects()
    assert not any(obj is kept for obj in young), "a frozen object is still in a generation"
    print("ok", frozen)
    """
)


def test_what_is_alive_is_frozen_and_what_is_garbage_is_collected_first() -> None:
    probe = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.startswith("ok ")
