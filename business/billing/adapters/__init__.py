"""Billing's clients of the outside world: Stripe."""
