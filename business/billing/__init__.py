"""Billing: the plans (free, pro) and what they give; subscriptions through Stripe (docs/plans.md)."""
