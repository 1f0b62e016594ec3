"""Builds paper trading from the settings: the store, the backtester's cost settings, the instruments."""

from __future__ import annotations

from business.config import BusinessSettings
from business.paper_trading.data.repositories import SqlPaperRepository
from business.paper_trading.domain.context import PaperTrading
from business.paper_trading.domain.entities import Costs, Instrument
from business.paper_trading.domain.ports import PaperRepository
from business.shared.database import BusinessStore


def parse_instruments(spec: str) -> list[Instrument]:
    """`SYMBOL:TICK[:LOT],...` -> instruments (no bar seen yet)."""
    instruments = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        symbol, tick, *lot = item.split(":")
        instruments.append(Instrument(symbol.upper(), float(tick), int(lot[0]) if lot else 1))
    return instruments


def build_paper_trading(settings: BusinessSettings, store: BusinessStore) -> PaperTrading:
    return PaperTrading(
        transactions=store.units_of_work(SqlPaperRepository),
        costs=Costs(commission=settings.paper_commission, slippage=settings.paper_slippage),
    )


def load_instruments(paper: PaperTrading, instruments: list[Instrument]) -> None:
    """Adds the configured instruments that are not known yet (their grids; the cursor stays)."""

    def work(repo: PaperRepository) -> None:
        for instrument in instruments:
            if repo.instrument(instrument.symbol) is None:
                repo.save_instrument(instrument)

    paper.transactions.run_sync(work)
