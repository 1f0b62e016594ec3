"""Which HTTP paths need no access token. One rule for the API docs and the Envoy config."""

from __future__ import annotations

PUBLIC_EXACT = frozenset({"/health"})
PUBLIC_PREFIXES = ("/api/auth/",)


def is_public_path(path: str) -> bool:
    return path in PUBLIC_EXACT or path.startswith(PUBLIC_PREFIXES)
