"""Adapters to the outside world used by identity: mail and SMS delivery, attempt counters."""
