"""Access tokens an attacker might present: forged, key-confused, unsigned, tampered, expired,
not yet valid, for another audience or issuer, or signed by a key nobody published."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from service_runtime.signing_keys import SigningKeyStore
from tests.conftest import claims


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged_tokens(keys: SigningKeyStore) -> dict[str, str]:
    now = int(time.time())
    admin = claims(sub="mallory", roles=["admin"])
    kid = keys.jwks()["keys"][0]["kid"]
    stranger = Ed25519PrivateKey.generate()
    public_raw = keys.public_keys()[kid].public_bytes(Encoding.Raw, PublicFormat.Raw)
    header_payload = (
        f"{b64url(json.dumps({'alg': 'HS256', 'kid': kid}).encode())}.{b64url(json.dumps(admin).encode())}"
    )
    confused = (
        header_payload + "." + b64url(hmac.new(public_raw, header_payload.encode(), hashlib.sha256).digest())
    )
    unsigned = (
        f"{b64url(json.dumps({'alg': 'none', 'kid': kid}).encode())}.{b64url(json.dumps(admin).encode())}."
    )
    genuine_user = keys.sign(claims(roles=["user"]))
    head, _, sig = genuine_user.split(".")
    tampered = f"{head}.{b64url(json.dumps(admin).encode())}.{sig}"
    return {
        "forged_key": jwt.encode(admin, stranger, algorithm="EdDSA", headers={"kid": kid}),
        "hs256_key_confusion": confused,
        "alg_none": unsigned,
        "tampered_payload": tampered,
        # Beyond Envoy's default 60 s clock skew, so Envoy itself must refuse it.
        "expired": keys.sign(claims(roles=["admin"], iat=now - 1500, nbf=now - 1500, exp=now - 600)),
        "wrong_audience": keys.sign(claims(roles=["admin"], aud="someone-else")),
        "wrong_issuer": keys.sign(claims(roles=["admin"], iss="evil")),
        "not_yet_valid": keys.sign(claims(roles=["admin"], iat=now + 600, nbf=now + 600)),
        "unknown_kid": jwt.encode(admin, stranger, algorithm="EdDSA", headers={"kid": "no-such-key"}),
    }
