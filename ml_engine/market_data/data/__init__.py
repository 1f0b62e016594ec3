"""Market data storage: the symbol and bar tables and their repository (SQLAlchemy Core)."""
