"""Market feeds: where new bars come from. The replay feed serves stored bars as if live; live
adapters (an exchange via ccxt, a broker's socket) implement the same `MarketFeed` protocol."""
