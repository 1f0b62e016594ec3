"""Where a training run's new version goes before the engine connects its shadow serving.

`ml_engine/main.py` replaces this with `PromotionService.shadow_trained` (the version runs in
shadow, audited); without it (a TrainingRuns built alone, as in tests) the version stays
AVAILABLE: on disk, not activated (its folder holds MANUAL_ACTIVATION, so neither the start-up load
nor the file watch activates it)."""

from __future__ import annotations

import logging

log = logging.getLogger("ml_engine.training_runs")


async def put_in_shadow(name: str, version: str) -> None:
    """The default hook: the version is only logged."""
    log.info("training run version ready for shadow", extra={"model": name, "version": version})
