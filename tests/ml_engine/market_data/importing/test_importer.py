"""The importer against real stores: validation, idempotency, one transaction."""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from ml_engine.market_data.data import repository as repo
from ml_engine.market_data.domain.symbols import SymbolInfo
from ml_engine.market_data.domain.timeframes import parse_timeframe
from ml_engine.market_data.importing.csv_rows import CsvColumns
from ml_engine.market_data.importing.importer import (
    CHUNK_ROWS,
    ImportTarget,
    RowsRejected,
    import_csv,
    import_sample,
)
from ml_engine.shared.database import MarketStore
from service_runtime.errors import FailedPrecondition, InvalidArgument

HOUR = 3600
T0 = 1_600_000_000 - 1_600_000_000 % HOUR


def fresh_symbol() -> str:
    return f"T{uuid.uuid4().hex[:10].upper()}"


def info(symbol: str) -> SymbolInfo:
    return SymbolInfo(symbol, "Test instrument", "crypto", 0.01, "USD", "UTC")


def csv_text(
    rows: int,
    bad_line: int | None = None,
    header: str = "time,open,high,low,close,volume",
    close_shift: float = 0.5,
) -> str:
    lines = [header]
    for i in range(rows):
        price = 100 + i % 7
        high = price + 1 if len(lines) + 1 != bad_line else price - 5  # bad: high below open
        lines.append(f"{T0 + i * HOUR},{price},{high},{price - 1},{price + close_shift},{10 + i}")
    return "\n".join(lines) + "\n"


def bar_count(store: MarketStore, symbol: str) -> int:
    with store.engine.connect() as conn:
        return repo.count_bars(conn, symbol, "1h")


def test_import_is_idempotent(market_store: MarketStore) -> None:
    symbol = fresh_symbol()
    target = ImportTarget(symbol, parse_timeframe("1h"), info(symbol))
    first = import_csv(market_store.engine, io.StringIO(csv_text(120)), target)
    assert (first.rows_read, first.rows_inserted, first.rows_existing, first.committed) == (120, 120, 0, True)
    again = import_csv(market_store.engine, io.StringIO(csv_text(130)), target)
    assert (again.rows_inserted, again.rows_existing) == (10, 120)
    assert bar_count(market_store, symbol) == 130
    with market_store.engine.connect() as conn:
        bars = repo.load_bars(conn, symbol, "1h", latest=2)
    assert list(bars.times) == [T0 + 128 * HOUR, T0 + 129 * HOUR]
    assert bars.volume[-1] == 10 + 129


def test_a_bad_row_after_many_good_ones_stores_nothing(market_store: MarketStore) -> None:
    symbol = fresh_symbol()
    target = ImportTarget(symbol, parse_timeframe("1h"), info(symbol))
    rows = CHUNK_ROWS * 2 + 500  # two chunks are written inside the transaction before the bad row
    bad_line = CHUNK_ROWS * 2 + 300
    with pytest.raises(RowsRejected) as rejected:
        import_csv(market_store.engine, io.StringIO(csv_text(rows, bad_line=bad_line)), target)
    assert rejected.value.total == 1
    assert rejected.value.violations[0].field == "csv_content"
    assert rejected.value.violations[0].description.startswith(f"line {bad_line}: high ")
    assert bar_count(market_store, symbol) == 0
    with market_store.engine.connect() as conn:
        assert repo.get_symbol(conn, symbol) is None  # the catalogue entry rolled back too


def test_every_rejected_row_is_reported_with_its_line(market_store: MarketStore) -> None:
    symbol = fresh_symbol()
    text = "\n".join(
        [
            "Date,Open,High,Low,Close",
            f"{T0},1,2,0.5,1.5",
            f"{T0 + HOUR},1,2,0.5,nan",  # NaN
            f"{T0 + HOUR},1,2,1.2,1.5",  # low above min(open, close)
            f"{T0 + 90 * 60},1,2,0.5,1.5",  # off the 1h grid
            f"{T0},1,2,0.5,1.5",  # not after the previous row
            "yesterday,1,2,0.5,1.5",  # not a time
            f"{T0 + 5 * HOUR},-1,2,-2,1.5",  # negative price
            f"{T0 + 6 * HOUR},1,x,0.5,1.5",  # not a number
            f"{T0 + 7 * HOUR},1,2",  # short row
        ]
    )
    target = ImportTarget(symbol, parse_timeframe("1h"), info(symbol))
    with pytest.raises(RowsRejected) as rejected:
        import_csv(market_store.engine, io.StringIO(text), target)
    reasons = {
        int(v.description.split(":")[0].removeprefix("line ")): v.description
        for v in rejected.value.violations
    }
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert "close is not a finite number" in reasons[3]
    assert "low 1.2 is above min(open, close)" in reasons[4]
    assert "not on the 1h grid" in reasons[5]
    assert "not after the previous row" in reasons[6]
    assert "is not a time" in reasons[7]
    assert "open must be positive" in reasons[8]
    assert "high 'x' is not a number" in reasons[9]
    assert "columns" in reasons[10]
    assert bar_count(market_store, symbol) == 0


def test_column_mapping_and_missing_columns(market_store: MarketStore) -> None:
    symbol = fresh_symbol()
    text = "when,o,h,l,c\n" + "\n".join(f"{T0 + i * HOUR},1,2,0.5,1.5" for i in range(3)) + "\n"
    target = ImportTarget(symbol, parse_timeframe("1h"), info(symbol))
    with pytest.raises(InvalidArgument) as missing:
        import_csv(market_store.engine, io.StringIO(text), target)
    assert missing.value.violations[0].field == "columns.open"
    report = import_csv(
        market_store.engine,
        io.StringIO(text),
        target,
        CsvColumns(time="when", open="o", high="h", low="l", close="c"),
    )
    assert report.rows_inserted == 3
    with market_store.engine.connect() as conn:
        assert list(repo.load_bars(conn, symbol, "1h").volume) == [0.0, 0.0, 0.0]


def test_a_symbol_keeps_its_base_timeframe(market_store: MarketStore) -> None:
    symbol = fresh_symbol()
    import_csv(
        market_store.engine,
        io.StringIO(csv_text(3)),
        ImportTarget(symbol, parse_timeframe("1h"), info(symbol)),
    )
    with pytest.raises(FailedPrecondition, match="stored at 1h"):
        import_csv(market_store.engine, io.StringIO(csv_text(3)), ImportTarget(symbol, parse_timeframe("1d")))


def test_new_symbol_needs_a_catalogue_entry_and_dry_run_stores_nothing(market_store: MarketStore) -> None:
    symbol = fresh_symbol()
    with pytest.raises(InvalidArgument) as no_info:
        import_csv(market_store.engine, io.StringIO(csv_text(3)), ImportTarget(symbol, parse_timeframe("1h")))
    assert no_info.value.violations[0].field == "info"
    dry = import_csv(
        market_store.engine,
        io.StringIO(csv_text(3)),
        ImportTarget(symbol, parse_timeframe("1h"), info(symbol), dry_run=True),
    )
    assert (dry.rows_read, dry.committed) == (3, False)
    assert bar_count(market_store, symbol) == 0


def test_samples_import_once(market_store: MarketStore) -> None:
    first = import_sample(market_store.engine, "goog")
    again = import_sample(market_store.engine, "GOOG")
    assert first.rows_read == again.rows_read == 2148
    assert again.rows_inserted == 0 and again.rows_existing == 2148
    with pytest.raises(InvalidArgument) as unknown:
        import_sample(market_store.engine, "BTCUSD")
    assert unknown.value.violations[0].field == "sample"


def paused_after(text: str, lines: int, paused: threading.Event, resume: threading.Event) -> Iterator[str]:
    """The lines of `text`; after the first `lines` of them, waits for `resume` (`paused` set)."""
    for number, line in enumerate(text.splitlines(keepends=True)):
        if number == lines:
            paused.set()
            assert resume.wait(30)
        yield line


@pytest.mark.parametrize("new_symbol", [True, False])
def test_concurrent_imports_of_a_symbol_run_one_after_the_other(
    market_store: MarketStore, new_symbol: bool
) -> None:
    """Two imports of the same bars at once (two admins, or a retry after a client timeout): the
    second waits for the first's commit and finds every bar stored. Before, two first imports of
    a new symbol both inserted its catalogue entry (the second failed on the key: INTERNAL), and
    the second counted the stored bars before the first committed, so both reported every bar as
    inserted."""
    symbol = fresh_symbol()
    rows = CHUNK_ROWS + 100
    if not new_symbol:
        import_csv(
            market_store.engine,
            io.StringIO(csv_text(1)),
            ImportTarget(symbol, parse_timeframe("1h"), info(symbol)),
        )
    target = ImportTarget(symbol, parse_timeframe("1h"), info(symbol) if new_symbol else None)
    paused, resume = threading.Event(), threading.Event()
    with ThreadPoolExecutor(2) as pool:
        # The first has written a chunk, and holds what it wrote, when the second starts.
        first_lines = paused_after(csv_text(rows), CHUNK_ROWS + 10, paused, resume)
        first = pool.submit(import_csv, market_store.engine, first_lines, target)
        assert paused.wait(30)
        second = pool.submit(
            import_csv, market_store.engine, io.StringIO(csv_text(rows, close_shift=0.25)), target
        )
        time.sleep(0.5)  # the second has begun (and, before the fix, counted the stored bars)
        resume.set()
        reports = [first.result(60), second.result(60)]
    new_bars = rows if new_symbol else rows - 1
    assert [(r.rows_inserted, r.rows_existing) for r in reports] == [(new_bars, rows - new_bars), (0, rows)]
    assert bar_count(market_store, symbol) == rows
    with market_store.engine.connect() as conn:
        assert repo.load_bars(conn, symbol, "1h", latest=1).close[0] == 100 + (rows - 1) % 7 + 0.25


def test_times_outside_the_timestamp_range_are_rejected_with_their_line(market_store: MarketStore) -> None:
    """Past 9999-12-31 a bar was stored and then unanswerable (a Timestamp cannot hold it); past
    BIGINT the import failed as INTERNAL. Bars before 1970 are fine."""
    symbol = fresh_symbol()
    day = 86_400
    text = "time,open,high,low,close,volume\n" + "".join(
        f"{t},10,11,9,10,100\n" for t in (-62_135_596_800 - day, -day, day * 10**12, day * 10**15)
    )
    with pytest.raises(RowsRejected) as rejected:
        import_csv(
            market_store.engine, io.StringIO(text), ImportTarget(symbol, parse_timeframe("1d"), info(symbol))
        )
    assert [v.description.split(":")[0] for v in rejected.value.violations] == ["line 2", "line 4", "line 5"]
    assert all("is not between 0001-01-01 and 9999-12-31" in v.description for v in rejected.value.violations)
    assert {v.field for v in rejected.value.violations} == {"csv_content"}


def test_a_field_the_csv_module_cannot_read_is_a_rejected_line(market_store: MarketStore) -> None:
    """A field over the csv module's 128 KiB limit (inside the 4 MiB ImportBars takes) raised
    csv.Error: INTERNAL. Now its line is reported, and nothing is stored."""
    symbol = fresh_symbol()
    text = (
        csv_text(2)
        + f"{T0 + 2 * HOUR},"
        + "1" * 200_000
        + ",11,9,10,100\n"
        + f"{T0 + 3 * HOUR},1,2,0.5,1,1\n"
    )
    with pytest.raises(RowsRejected) as rejected:
        import_csv(
            market_store.engine,
            io.StringIO(text, newline=""),
            ImportTarget(symbol, parse_timeframe("1h"), info(symbol)),
        )
    (violation,) = rejected.value.violations
    assert violation.field == "csv_content" and violation.description.startswith(
        "line 4: cannot be read as CSV"
    )
    assert bar_count(market_store, symbol) == 0
    with pytest.raises(InvalidArgument, match="line 1"):
        header = "time," + "x" * 200_000 + "\n"
        import_csv(
            market_store.engine,
            io.StringIO(header),
            ImportTarget(symbol, parse_timeframe("1h"), info(symbol)),
        )
