"""Clients of what the status feature probes: the ML engine and Redis."""
