"""Education's adapters to other services (the ML engine)."""
