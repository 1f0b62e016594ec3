"""Watchlists, alert rules evaluated once per bar of the ML engine's prediction stream (delivered
live and by email), and saved backtests."""
