"""MarketDataService: the symbol catalogue, bar history and imports."""
