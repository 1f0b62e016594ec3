"""Market data in the domain: bars, timeframes, resampling and row validation (no I/O)."""
