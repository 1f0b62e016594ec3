"""Sample market data bundled in the `backtesting` package, imported by `make run` on first start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import backtesting.test

from ml_engine.market_data.domain.symbols import SymbolInfo


@dataclass(frozen=True)
class SampleDataset:
    file: str
    timeframe: str
    info: SymbolInfo

    @property
    def path(self) -> Path:
        return Path(backtesting.test.__file__).parent / self.file


# BTCUSD.csv in the same package is monthly, a timeframe the platform does not serve.
SAMPLES: dict[str, SampleDataset] = {
    "EURUSD": SampleDataset(
        "EURUSD.csv", "1h", SymbolInfo("EURUSD", "Euro / US Dollar", "fx", 0.00001, "USD", "UTC")
    ),
    "GOOG": SampleDataset(
        "GOOG.csv",
        "1d",
        SymbolInfo("GOOG", "Alphabet Inc. class C", "equity", 0.01, "USD", "America/New_York"),
    ),
}
