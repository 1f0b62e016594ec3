"""The signing key store the gateway publishes and (for dev tokens) signs with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from service_runtime.signing_keys import SigningKeyStore


def key_store(keys_dir: str, activation_delay_s: float = 0.0) -> SigningKeyStore:
    return SigningKeyStore(Path(keys_dir), activation_delay_s)


def read_jwks(store: SigningKeyStore) -> dict[str, Any]:
    """The JWKS, read from disk now. Retries once: a rotation in another process may delete a
    file between the directory listing and the read."""
    try:
        return store.jwks()
    except FileNotFoundError:
        return store.jwks()
