"""The RPCs the ML engine's per-plan rate limit counts are RPCs it serves (a typo would silently
leave one unlimited)."""

from __future__ import annotations

from google.protobuf import descriptor_pool

from ml_engine.main import RATE_LIMITED, SERVICES


def test_every_rate_limited_path_is_a_method_the_engine_serves() -> None:
    pool = descriptor_pool.Default()
    served = {f"/{name}/{m.name}" for name in SERVICES for m in pool.FindServiceByName(name).methods}
    assert served >= RATE_LIMITED
    assert "/trading.ml.v1.PredictionService/StreamPredictions" in RATE_LIMITED
