"""Market data in the domain: bars, timeframes, resampling, row validation and page tokens (no I/O)."""
