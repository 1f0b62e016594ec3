"""What several ml_engine features share: the market store, proto mapping helpers, parameters."""
