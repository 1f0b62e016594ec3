"""Market data tables. Times are epoch seconds (UTC) in BIGINT: no time zone conversions in MySQL."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, ForeignKey, MetaData, String, Table

metadata = MetaData()

symbols = Table(
    "market_symbols",
    metadata,
    Column("symbol", String(32), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("asset_class", String(16), nullable=False),
    Column("tick_size", Float(53), nullable=False),
    Column("quote_currency", String(8), nullable=False),
    Column("timezone", String(64), nullable=False),
    # Bars are stored at one timeframe per symbol; coarser ones are resampled from it.
    Column("base_timeframe", String(8), nullable=False),
    # Moves with every write of the symbol's bars (migration 0007): other engines' bar clocks see a
    # correction of past bars that leaves the last bar where it was.
    Column("revision", BigInteger, nullable=False, server_default="0"),
)

bars = Table(
    "market_bars",
    metadata,
    Column("symbol", String(32), ForeignKey("market_symbols.symbol"), primary_key=True),
    Column("timeframe", String(8), primary_key=True),
    Column("ts", BigInteger, primary_key=True, autoincrement=False),
    Column("open", Float(53), nullable=False),
    Column("high", Float(53), nullable=False),
    Column("low", Float(53), nullable=False),
    Column("close", Float(53), nullable=False),
    Column("volume", Float(53), nullable=False),
)
