"""Turn CSV lines into BarRows using a column mapping; unparseable rows become RejectedRows."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ml_engine.market_data.domain.row_checks import BarRow, RejectedRow
from ml_engine.market_data.domain.times import parse_time, time_problem
from service_runtime.errors import InvalidArgument


@dataclass(frozen=True)
class CsvColumns:
    """Header names of each field; empty: the default (time: the first column)."""

    time: str = ""
    open: str = ""
    high: str = ""
    low: str = ""
    close: str = ""
    volume: str = ""


_FIELDS = ("time", "open", "high", "low", "close", "volume")


def _column_indexes(header: list[str], columns: CsvColumns) -> dict[str, int | None]:
    lowered = [h.strip().lower() for h in header]
    found: dict[str, int | None] = {}
    for name in _FIELDS:
        wanted = getattr(columns, name).strip()
        if not wanted:
            if name == "time":
                found[name] = 0
                continue
            wanted = name
        index = lowered.index(wanted.lower()) if wanted.lower() in lowered else None
        if index is None and (getattr(columns, name) or name != "volume"):
            raise InvalidArgument.field(
                f"columns.{name}", f"no column {wanted!r} in the header {', '.join(h for h in header if h)}"
            )
        found[name] = index
    return found


def _records(reader: Iterator[list[str]]) -> Iterator[list[str] | csv.Error]:
    """The reader's records; a text the csv module cannot read (a field over its 128 KiB limit)
    ends them with the error, which the caller reports at its line: no later line can be trusted."""
    while True:
        try:
            record = next(reader, None)
        except csv.Error as error:
            yield error
            return
        if record is None:
            return
        yield record


def read_rows(lines: Iterable[str], columns: CsvColumns) -> Iterator[BarRow | RejectedRow]:
    """Rows of a CSV text with a header, in file order. Line numbers count the header as 1."""
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise InvalidArgument.field("csv_content", f"line {reader.line_num}: {error}") from None
    if header is None:
        raise InvalidArgument.field("csv_content", "is empty: a header row and bar rows are needed")
    index = _column_indexes(header, columns)
    for record in _records(reader):
        line = reader.line_num
        if isinstance(record, csv.Error):
            yield RejectedRow(line, f"cannot be read as CSV ({record}); nothing after it was read")
            return
        if not record or all(not cell.strip() for cell in record):
            continue
        try:
            cells = {name: (record[i] if i is not None else "0") for name, i in index.items()}
        except IndexError:
            yield RejectedRow(line, f"has {len(record)} columns, the header has {len(header)}")
            continue
        ts = parse_time(cells["time"])
        if ts is None:
            yield RejectedRow(line, f"time {cells['time'][:40]!r} {time_problem(cells['time'])}")
            continue
        values: dict[str, float] = {}
        for name in _FIELDS[1:]:
            try:
                # "nan" and "inf" parse; the row checks reject them with a clearer reason.
                values[name] = float(cells[name])
            except ValueError:
                yield RejectedRow(line, f"{name} {cells[name][:40]!r} is not a number")
                break
        if len(values) < len(_FIELDS) - 1:
            continue
        yield BarRow(
            line, ts, values["open"], values["high"], values["low"], values["close"], values["volume"]
        )
