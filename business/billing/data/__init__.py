"""Billing's tables and repositories (the `financial` schema)."""
