"""Services can verify tokens from the published JWKS alone (no private key on their disk)."""

from __future__ import annotations

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from service_runtime.access import TokenVerifier, keys_from_jwks_url
from service_runtime.errors import DependencyUnavailable, Unauthenticated
from service_runtime.signing_keys import SigningKeyStore
from tests.conftest import PAGE_ORIGIN, claims
from tools.supervisor import Stack


def test_verifier_reads_the_gateway_jwks(stack: Stack, keys: SigningKeyStore) -> None:
    verifier = TokenVerifier(
        keys_from_jwks_url(f"{PAGE_ORIGIN}/.well-known/jwks.json"), "trading-platform", "trading-api"
    )
    caller = verifier.verify(keys.sign(claims(sub="u-7", roles=["admin", "user"], plan="pro")))
    assert (caller.subject, caller.roles, caller.plan) == ("u-7", frozenset({"admin", "user"}), "pro")
    kid = keys.jwks()["keys"][0]["kid"]
    forged = jwt.encode(claims(), Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": kid})
    with pytest.raises(Unauthenticated):
        verifier.verify(forged)


def test_unreachable_jwks_is_unavailable_not_a_crash(keys: SigningKeyStore) -> None:
    verifier = TokenVerifier(
        keys_from_jwks_url("http://127.0.0.1:9/jwks.json", timeout_s=0.5), "trading-platform", "trading-api"
    )
    with pytest.raises(DependencyUnavailable):
        verifier.verify(keys.sign(claims()))
