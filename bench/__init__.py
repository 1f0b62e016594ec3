"""Benchmarks that drive the real stack (see bench/edge.py)."""
