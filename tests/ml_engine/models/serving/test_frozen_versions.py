"""A model version loaded at start-up is frozen out of garbage collection with everything else when
the engine serves (service_runtime/garbage_collection.py); swapped out, its session must still be
freed. Run in a process of its own: a freeze in the test process would outlive the test."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

PROBE = textwrap.dedent(
    """
    import asyncio, gc, sys, weakref
    from pathlib import Path
    from ml_engine.models.serving.registry import ServedModel
    from service_runtime.garbage_collection import freeze_startup_objects
    from tests.ml_engine.models.serving.test_registry import started, write

    async def main(repo: Path) -> None:
        write(repo, "m", 1)
        write(repo, "m", 2)
        registry, activation = await started(repo)
        try:
            served = next(o for o in gc.get_objects() if isinstance(o, ServedModel) and o.name == "m")
            start_up_session = weakref.ref(served.active.session)
            freeze_startup_objects()
            assert not any(o is served for o in gc.get_objects())  # frozen
            await activation.activate("m", "1")
            assert registry.entry("m").active_version == "1"
            assert start_up_session() is None, "the retired version's session was not freed"
        finally:
            await activation.stop()
        print("ok")

    asyncio.run(main(Path(sys.argv[1])))
    """
)


def test_a_version_retired_after_the_freeze_is_freed(tmp_path: Path) -> None:
    repo = tmp_path / "models"
    repo.mkdir()
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, str(repo)], capture_output=True, text=True, timeout=120
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip().endswith("ok")
