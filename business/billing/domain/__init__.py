"""Billing's rules, pure: the plan catalogue."""
