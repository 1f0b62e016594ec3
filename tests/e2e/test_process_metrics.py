"""What each service process reports about itself on its Prometheus port, in the running stack."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import BUSINESS_METRICS_PORT, ML_METRICS_PORT
from tools.supervisor import Stack


@pytest.mark.parametrize("port", [BUSINESS_METRICS_PORT, ML_METRICS_PORT], ids=["business", "ml_engine"])
def test_a_serving_process_has_frozen_its_start_up_objects(stack: Stack, port: int) -> None:
    """run_service freezes what start-up made (service_runtime/garbage_collection.py), so a full
    garbage collection under load walks only what requests made since."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    frozen = [line for line in text.splitlines() if line.startswith("python_gc_frozen_objects ")]
    assert frozen, "python_gc_frozen_objects is not exported"
    assert float(frozen[0].split()[1]) > 10_000  # modules, generated classes, mappers, models
