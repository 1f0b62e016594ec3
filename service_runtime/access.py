"""Zero-trust checks inside each service: re-verify the caller's access token and apply the
AccessRule its proto declares for the RPC (`option (trading.common.v1.access)`).

Envoy already validated the token; a service checks again because a request may reach its
port without passing through Envoy. RPCs without a rule are not checked here yet.
"""

from __future__ import annotations

import base64
import contextvars
import json
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.protobuf import descriptor_pool

from service_runtime.errors import DependencyUnavailable, PermissionDenied, Unauthenticated
from service_runtime.interceptors import _Around, _WrappingInterceptor
from service_runtime.signing_keys import SigningKeyStore
from trading.common.v1 import access_pb2


@dataclass(frozen=True)
class Caller:
    subject: str
    roles: frozenset[str]
    plan: str


caller_var: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("caller", default=None)

# A kid we do not know triggers a re-read of the keys, at most this often.
KEY_RELOAD_INTERVAL_S = 5.0


PublicKeys = Callable[[], dict[str, Ed25519PublicKey]]


def keys_from_folder(folder: Path) -> PublicKeys:
    """Public keys read from the signing-key folder (local runs share it with the gateway)."""
    return SigningKeyStore(folder).public_keys


def keys_from_jwks_url(url: str, timeout_s: float = 2.0) -> PublicKeys:
    """Public keys read from the published JWKS: a service needs no private key material."""

    def fetch() -> dict[str, Ed25519PublicKey]:
        with urllib.request.urlopen(url, timeout=timeout_s) as reply:
            document = json.load(reply)
        keys = {}
        for jwk in document.get("keys", []):
            if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
                raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
                keys[str(jwk["kid"])] = Ed25519PublicKey.from_public_bytes(raw)
        return keys

    return fetch


class TokenVerifier:
    """Verifies EdDSA access tokens against the platform's published keys."""

    def __init__(self, keys: PublicKeys, issuer: str, audience: str) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self._public: dict[str, Ed25519PublicKey] = {}
        self._loaded_at = -KEY_RELOAD_INTERVAL_S

    def _key(self, kid: str) -> Ed25519PublicKey | None:
        # Keys rotate: an unknown kid triggers a re-read, rate-limited so junk tokens cannot flood it.
        if kid not in self._public and time.monotonic() - self._loaded_at > KEY_RELOAD_INTERVAL_S:
            self._loaded_at = time.monotonic()
            try:
                self._public = self.keys()
            except OSError as error:
                raise DependencyUnavailable(f"cannot read the token signing keys: {error}") from None
        return self._public.get(kid)

    def verify(self, token: str) -> Caller:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise Unauthenticated("access token is malformed") from None
        if header.get("alg") != "EdDSA":
            raise Unauthenticated("access token must be signed with EdDSA")
        key = self._key(str(header.get("kid", "")))
        if key is None:
            raise Unauthenticated("access token is signed by an unknown key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=["EdDSA"], audience=self.audience, issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.InvalidTokenError as error:
            raise Unauthenticated(f"access token rejected: {error}") from None
        roles = claims.get("roles", [])
        return Caller(str(claims["sub"]), frozenset(r for r in roles if isinstance(r, str)),
                      str(claims.get("plan", "")))


def access_rules(service_names: Iterable[str]) -> dict[str, access_pb2.AccessRule]:
    """gRPC method path → the AccessRule its proto declares, for methods that declare one."""
    pool = descriptor_pool.Default()
    rules: dict[str, access_pb2.AccessRule] = {}
    for name in service_names:
        for method in pool.FindServiceByName(name).methods:
            options = method.GetOptions()
            if options.HasExtension(access_pb2.access):
                rules[f"/{name}/{method.name}"] = options.Extensions[access_pb2.access]
    return rules


class AccessInterceptor(_WrappingInterceptor):
    def __init__(self, verifier: TokenVerifier, rules: dict[str, access_pb2.AccessRule]) -> None:
        self.verifier = verifier
        self.rules = rules

    def around(self, method: str, context: grpc.aio.ServicerContext) -> Any:
        return _AccessScope(self, self.rules.get(method), context)


class _AccessScope(_Around):
    def __init__(self, owner: AccessInterceptor, rule: access_pb2.AccessRule | None,
                 context: grpc.aio.ServicerContext) -> None:
        self.owner = owner
        self.rule = rule
        self.context = context
        self.token: contextvars.Token[Caller | None] | None = None

    async def __aenter__(self) -> None:
        if self.rule is None:
            return
        metadata = dict(self.context.invocation_metadata() or ())
        authorization = str(metadata.get("authorization", ""))
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("an access token is required (authorization: Bearer <token>)")
        caller = self.owner.verifier.verify(token.strip())
        if self.rule.roles and not caller.roles & set(self.rule.roles):
            raise PermissionDenied(f"requires role {' or '.join(self.rule.roles)}")
        self.token = caller_var.set(caller)

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if self.token is not None:
            caller_var.reset(self.token)
        return False
