"""Validate every row, then upsert them all in one transaction, or store nothing.

Rows stream from the source in chunks, so a large file never sits in memory. Each chunk is
written inside the one open transaction; the first rejected row stops the writing (validation
goes on, to report every bad row) and the transaction is rolled back at the end.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from ml_engine.market_data.data import repository as repo
from ml_engine.market_data.domain.row_checks import BarRow, RejectedRow, check_row
from ml_engine.market_data.domain.symbols import SymbolInfo
from ml_engine.market_data.domain.timeframes import Timeframe, parse_timeframe
from ml_engine.market_data.importing.csv_rows import CsvColumns, read_rows
from ml_engine.market_data.importing.samples import SAMPLES
from service_runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument

CHUNK_ROWS = 5_000
REPORTED_REJECTS = 100


@dataclass(frozen=True)
class ImportReport:
    symbol: str
    timeframe: str
    rows_read: int
    rows_inserted: int
    rows_existing: int
    committed: bool


class RowsRejected(InvalidArgument):
    """The source had bad rows; nothing was stored. Lists the first REPORTED_REJECTS of them."""

    def __init__(self, rejected: list[RejectedRow], total: int, field: str) -> None:
        shown = [FieldViolation(field, f"line {r.line}: {r.reason}") for r in rejected[:REPORTED_REJECTS]]
        if total > len(shown):
            shown.append(FieldViolation(field, f"{total - len(shown)} more rows rejected"))
        super().__init__(*shown)
        self.rejected = rejected
        self.total = total


@dataclass(frozen=True)
class ImportTarget:
    symbol: str
    timeframe: Timeframe
    # Catalogue entry to create or update; None keeps the stored one (the symbol must exist).
    info: SymbolInfo | None = None
    dry_run: bool = False


def _hold_symbol(conn: Connection, target: ImportTarget) -> None:
    """The import's first step: take the symbol for the transaction (a concurrent import of it
    waits for this one's commit, so `before` counts its bars and each new bar is counted once by
    one import), check the rows may go there, write its catalogue entry when one is given. A dry
    run writes nothing, so it holds nothing either."""
    new = repo.StoredSymbol(target.info, target.timeframe.name) if target.info is not None else None
    if target.dry_run:
        stored = repo.get_symbol(conn, target.symbol) or new
    else:
        stored = repo.hold_symbol(conn, target.symbol, new)
    if stored is None:
        raise InvalidArgument.field(
            "info", f"{target.symbol} is a new symbol: its catalogue entry is required"
        )
    if stored.base_timeframe != target.timeframe.name:
        raise FailedPrecondition(
            f"{target.symbol} is stored at {stored.base_timeframe}; import {stored.base_timeframe} rows "
            f"(coarser timeframes are resampled from it)"
        )
    if new is not None and not target.dry_run:
        repo.save_symbol(conn, new)


def import_csv(
    engine: Engine,
    lines: Iterable[str],
    target: ImportTarget,
    columns: CsvColumns | None = None,
    source_field: str = "csv_content",
) -> ImportReport:
    with engine.connect() as conn, conn.begin() as tx:
        _hold_symbol(conn, target)
        before = repo.count_bars(conn, target.symbol, target.timeframe.name)

        rejected: list[RejectedRow] = []
        rejected_total = 0
        rows_read = 0
        previous: int | None = None
        chunk: list[BarRow] = []
        for item in read_rows(lines, columns or CsvColumns()):
            rows_read += 1
            reason = (
                item.reason if isinstance(item, RejectedRow) else check_row(item, previous, target.timeframe)
            )
            if reason is not None:
                rejected_total += 1
                if len(rejected) < REPORTED_REJECTS:
                    rejected.append(RejectedRow(item.line, reason))
                continue
            assert isinstance(item, BarRow)
            previous = item.time
            if rejected_total == 0 and not target.dry_run:
                chunk.append(item)
                if len(chunk) >= CHUNK_ROWS:
                    repo.upsert_bars(conn, target.symbol, target.timeframe.name, chunk)
                    chunk = []
        if rejected_total:
            tx.rollback()
            raise RowsRejected(rejected, rejected_total, source_field)
        if rows_read == 0:
            tx.rollback()
            raise InvalidArgument.field(source_field, "has a header but no rows")
        if target.dry_run:
            tx.rollback()
            return ImportReport(target.symbol, target.timeframe.name, rows_read, 0, 0, committed=False)
        repo.upsert_bars(conn, target.symbol, target.timeframe.name, chunk)
        inserted = repo.count_bars(conn, target.symbol, target.timeframe.name) - before
        tx.commit()
    return ImportReport(target.symbol, target.timeframe.name, rows_read, inserted, rows_read - inserted, True)


def import_sample(engine: Engine, name: str, dry_run: bool = False) -> ImportReport:
    sample = SAMPLES.get(name.strip().upper())
    if sample is None:
        raise InvalidArgument.field("sample", f"unknown sample {name!r}; use one of {', '.join(SAMPLES)}")
    target = ImportTarget(sample.info.symbol, parse_timeframe(sample.timeframe), sample.info, dry_run)
    with sample.path.open(newline="") as handle:
        return import_csv(engine, handle, target, source_field="sample")


def load_missing_samples(engine: Engine) -> list[ImportReport]:
    """Import every sample whose symbol has no bars yet (first start of `make run`)."""
    with engine.connect() as conn:
        present = {s.stored.info.symbol for s in repo.list_symbols(conn) if s.bar_count}
    return [import_sample(engine, name) for name in SAMPLES if name not in present]
