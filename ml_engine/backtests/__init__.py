"""BacktestService: the strategy catalogue and backtests over stored bars."""
