"""Paper trading: portfolios with virtual cash, orders filled on the live bar feed by the shared
fill model."""
