"""Catalogue entries: every bad field is named."""

from __future__ import annotations

import pytest

from ml_engine.market_data.domain.symbols import SymbolInfo
from service_runtime.errors import InvalidArgument


@pytest.mark.parametrize("tick_size", [0.0, -0.01, float("inf"), float("nan")])
def test_a_tick_size_must_be_positive_and_finite(tick_size: float) -> None:
    with pytest.raises(InvalidArgument) as refused:
        SymbolInfo("ACME", "Acme", "equity", tick_size, "USD", "UTC").validate()
    assert [v.field for v in refused.value.violations] == ["info.tick_size"]
    assert SymbolInfo("ACME", "Acme", "equity", 0.01, "USD", "UTC").validate().tick_size == 0.01
