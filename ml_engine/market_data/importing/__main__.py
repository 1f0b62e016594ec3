"""Console importer: `python -m ml_engine.market_data.importing FILE --symbol S --timeframe 1h ...`
or `--sample EURUSD`.

Writes to the store the ML engine is configured for (MYSQL_* or MARKET_SQLITE_PATH), after
applying its migrations. Exit status 0 when stored, 1 when rows were rejected (nothing stored),
2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from ml_engine.config import MlEngineSettings
from ml_engine.market_data.domain.symbols import SymbolInfo, normalize_symbol
from ml_engine.market_data.domain.timeframes import parse_timeframe
from ml_engine.market_data.importing.csv_rows import CsvColumns
from ml_engine.market_data.importing.importer import (
    ImportReport,
    ImportTarget,
    RowsRejected,
    import_csv,
    import_sample,
)
from ml_engine.shared.database import MarketStore
from service_runtime.errors import DomainError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ml_engine.market_data.importing",
        description=" ".join(__doc__.split("\n\n")[0].split()),
    )
    p.add_argument("file", nargs="?", type=Path, help="CSV file with a header row")
    p.add_argument("--sample", help="import a bundled sample instead: EURUSD or GOOG")
    p.add_argument("--symbol")
    p.add_argument("--timeframe", help="timeframe of the rows: 1m 5m 15m 30m 1h 4h 1d")
    p.add_argument("--dry-run", action="store_true", help="validate only")
    for field in ("time", "open", "high", "low", "close", "volume"):
        p.add_argument(f"--{field}-column", default="", help=f"header of the {field} column")
    p.add_argument("--name", help="catalogue: instrument name (new symbols)")
    p.add_argument("--asset-class", help="catalogue: fx, equity, crypto, commodity or index")
    p.add_argument("--tick-size", type=float)
    p.add_argument("--quote-currency")
    p.add_argument("--timezone", default="UTC")
    return p


def run(argv: list[str], store: MarketStore) -> ImportReport:
    args = _parser().parse_args(argv)
    if args.sample:
        return import_sample(store.engine, args.sample, args.dry_run)
    if not (args.file and args.symbol and args.timeframe):
        raise SystemExit("FILE, --symbol and --timeframe are required (or --sample)")
    symbol = normalize_symbol(args.symbol)
    info = None
    if args.name:
        info = SymbolInfo(
            symbol,
            args.name,
            args.asset_class or "",
            args.tick_size or 0.0,
            (args.quote_currency or "").upper(),
            args.timezone,
        ).validate()
    columns = CsvColumns(
        args.time_column,
        args.open_column,
        args.high_column,
        args.low_column,
        args.close_column,
        args.volume_column,
    )
    target = ImportTarget(symbol, parse_timeframe(args.timeframe), info, args.dry_run)
    with args.file.open(newline="") as handle:
        return import_csv(store.engine, handle, target, columns, source_field=str(args.file))


def main(argv: list[str] | None = None) -> int:
    settings = MlEngineSettings()
    store = MarketStore(settings.market_database_url)
    try:
        store.migrate()
        report = run(sys.argv[1:] if argv is None else argv, store)
    except RowsRejected as rejected:
        print(f"{rejected.total} rows rejected, nothing stored:", file=sys.stderr)
        for violation in rejected.violations:
            print(f"  {violation.field}: {violation.description}", file=sys.stderr)
        return 1
    except DomainError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 2
    finally:
        store.close()
    print(json.dumps(asdict(report)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
