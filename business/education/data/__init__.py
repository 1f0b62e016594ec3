"""Education's tables and repositories."""
