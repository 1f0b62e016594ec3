"""Where a training run's new version goes to shadow serving.

The shadow serving (branch `shadow`) will give the engine a function that starts a version in
shadow; until it is wired here, a run's version stays AVAILABLE (on disk, not activated: its folder
holds MANUAL_ACTIVATION, so neither the start-up load nor the file watch activates it)."""

from __future__ import annotations

import logging

log = logging.getLogger("ml_engine.training_runs")


async def put_in_shadow(name: str, version: str) -> None:
    """The one call site the lead wires to the shadow serving's start (a no-op until then)."""
    log.info("training run version ready for shadow", extra={"model": name, "version": version})
