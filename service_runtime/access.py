"""Zero-trust checks inside each service: re-verify the caller's access token and apply the
AccessRule its proto declares for the RPC (`option (trading.common.v1.access)`).

Envoy already validated the token; a service checks again because a request may reach its
port without passing through Envoy. Every RPC declares a rule; one without is refused.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import json
import logging
import math
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import grpc
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.protobuf import descriptor_pool

from service_runtime.caller import Caller, caller_var
from service_runtime.errors import DependencyUnavailable, DomainError, PermissionDenied, Unauthenticated
from service_runtime.interceptors import Behavior, _Around, _WrappingInterceptor
from service_runtime.plans import check_request, require_plan
from service_runtime.signing_keys import SigningKeyStore
from trading.common.v1 import access_pb2

log = logging.getLogger(__name__)

# A kid we do not know triggers a re-read of the keys, at most this often.
KEY_RELOAD_INTERVAL_S = 5.0
# Keys read longer ago than this are read again before the next token is verified, so a key taken
# out of the JWKS (dropped by rotations, or withdrawn) stops verifying here when it stops at Envoy,
# whose remote_jwks cache holds keys as long (envoy/http_filters.py, JWKS_CACHE_S).
KEYS_MAX_AGE_S = 300.0
# Verified tokens remembered (the token's exact text -> its caller) until they expire: checking an
# EdDSA signature costs more than the rest of a cached prediction, and a client presents the same
# token on every call. Revocation is still checked on every call; the oldest entry goes first.
VERIFIED_TOKENS_KEPT = 4096


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

    def __init__(
        self, keys: PublicKeys, issuer: str, audience: str, keys_max_age_s: float = KEYS_MAX_AGE_S
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.keys_max_age_s = keys_max_age_s
        self._public: dict[str, Ed25519PublicKey] = {}
        # Monotonic times: of the last attempt to read the keys, and until when the last read holds.
        self._tried_at = -math.inf
        self._fresh_until = -math.inf
        # One re-read at a time: a caller arriving during one waits for it instead of finding the
        # kid still unknown (tokens are verified in worker threads, many at once).
        self._reloading = threading.Lock()
        # token -> (its caller, the key that verified it)
        self._verified: dict[str, tuple[Caller, Ed25519PublicKey]] = {}

    def _read_keys(self) -> None:
        """Replaces the keys with what is published now (the caller holds _reloading)."""
        self._tried_at = time.monotonic()
        try:
            self._public = self.keys()
        except (OSError, ValueError, KeyError) as error:  # unreachable, or not a JWKS
            # Tried again shortly, not on every call meanwhile.
            self._fresh_until = self._tried_at + min(KEY_RELOAD_INTERVAL_S, self.keys_max_age_s)
            raise DependencyUnavailable(f"cannot read the token signing keys: {error}") from None
        self._fresh_until = self._tried_at + self.keys_max_age_s

    def _refresh_if_stale(self) -> None:
        if time.monotonic() < self._fresh_until:
            return  # the hot path: one clock read
        # Until a first read succeeds every caller waits for it; after that, callers go on with
        # the keys they have while one of them reads.
        if not self._reloading.acquire(blocking=not self._public):
            return
        try:
            if time.monotonic() < self._fresh_until:
                return  # read by another caller meanwhile
            try:
                self._read_keys()
            except DependencyUnavailable as error:
                if not self._public:
                    raise
                # A publisher briefly away is no reason to refuse every token: the keys read
                # before stay until a read succeeds.
                log.warning("signing keys not refreshed, keeping those read before: %s", error)
        finally:
            self._reloading.release()

    def _key(self, kid: str) -> Ed25519PublicKey | None:
        key = self._public.get(kid)
        if key is not None:
            return key
        # Keys rotate: an unknown kid triggers a re-read, rate-limited so junk tokens cannot flood it.
        with self._reloading:
            if kid not in self._public and time.monotonic() - self._tried_at > KEY_RELOAD_INTERVAL_S:
                self._read_keys()
            return self._public.get(kid)

    def verify(self, token: str) -> Caller:
        """The caller of a valid token; the same token again is answered from memory while it has
        not expired and the key that verified it is still the one published under its kid (as
        last read: keys older than keys_max_age_s are read again first)."""
        self._refresh_if_stale()
        hit = self._verified.get(token)
        if hit is not None:
            caller, key = hit
            if time.time() < caller.expires_at and any(k is key for k in self._public.values()):
                return caller
            del self._verified[token]
        caller, key = self._verify(token)
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = (caller, key)
        return caller

    def _verify(self, token: str) -> tuple[Caller, Ed25519PublicKey]:
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
                token,
                key,
                algorithms=["EdDSA"],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.InvalidTokenError as error:
            raise Unauthenticated(f"access token rejected: {error}") from None
        roles = claims.get("roles", [])
        caller = Caller(
            str(claims["sub"]),
            frozenset(r for r in roles if isinstance(r, str)),
            str(claims.get("plan", "")),
            session_id=str(claims.get("sid", "")),
            token_id=str(claims.get("jti", "")),
            issued_at=float(claims["iat"]),
            expires_at=float(claims["exp"]),
        )
        return caller, key


@dataclass(frozen=True)
class ForeignRules:
    """Access rules for a service whose proto we do not own (e.g. the KServe v2
    `inference.GRPCInferenceService`), so no (trading.common.v1.access) option can be read.

    Deny by default still holds: every method of the service must be listed, either with a rule
    or in `refused` (methods we deliberately do not open); a method in neither stops the start."""

    rules: Mapping[str, access_pb2.AccessRule]
    refused: frozenset[str] = field(default_factory=frozenset)


# Service full name -> its rules, declared by the module that serves it (declare_foreign_rules).
_foreign_rules: dict[str, ForeignRules] = {}


def declare_foreign_rules(service_name: str, rules: ForeignRules) -> None:
    """Declare the rules of a foreign service before access_rules() is asked for it."""
    _foreign_rules[service_name] = rules


# Infrastructure every server carries: not the platform's API, open to probes and tools.
INFRASTRUCTURE_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)


def _rule_problem(path: str, rule: access_pb2.AccessRule) -> str | None:
    if rule.public and (rule.roles or rule.plans):
        return f"{path} is public and also requires roles or plans"
    if not rule.public and not rule.roles:
        return f"{path} names no role (use public: true for open RPCs)"
    return None


def access_rules(
    service_names: Iterable[str], foreign: Mapping[str, ForeignRules] | None = None
) -> dict[str, access_pb2.AccessRule]:
    """gRPC method path → the AccessRule its proto declares (or, for a foreign service, the
    rule declared for it with declare_foreign_rules; `foreign` overrides those declarations).

    Deny by default: a method of ours without a rule, or with a contradictory one, stops the
    service from starting rather than being served open or silently closed."""
    pool = descriptor_pool.Default()
    declared = _foreign_rules if foreign is None else foreign
    rules: dict[str, access_pb2.AccessRule] = {}
    problems: list[str] = []
    for name in service_names:
        outside = declared.get(name)
        for method in pool.FindServiceByName(name).methods:
            path = f"/{name}/{method.name}"
            if outside is not None:
                if method.name in outside.refused:
                    continue  # no rule: the interceptor refuses it
                if method.name not in outside.rules:
                    problems.append(f"{path} (foreign service) is neither given a rule nor refused")
                    continue
                rule = outside.rules[method.name]
            else:
                options = method.GetOptions()
                if not options.HasExtension(access_pb2.access):
                    problems.append(f"{path} declares no (trading.common.v1.access) rule")
                    continue
                rule = options.Extensions[access_pb2.access]
            problem = _rule_problem(path, rule)
            if problem:
                problems.append(problem)
            rules[path] = rule
        if outside is not None:
            known = {m.name for m in pool.FindServiceByName(name).methods}
            unknown = sorted((set(outside.rules) | outside.refused) - known)
            if unknown:
                problems.append(f"{name} has no method {', '.join(unknown)} (foreign rules name it)")
    if problems:
        raise ValueError("access rules: " + "; ".join(problems))
    return rules


def token_of_authorization(value: str) -> str:
    """The token of an `Authorization: Bearer <token>` value; empty for any other scheme."""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def bearer_token(context: grpc.aio.ServicerContext) -> str:
    """The token of `authorization: Bearer <token>`; only that header is trusted (never a
    claims header some proxy might add)."""
    metadata = dict(context.invocation_metadata() or ())
    token = token_of_authorization(str(metadata.get("authorization", "")))
    if not token:
        raise Unauthenticated("an access token is required (authorization: Bearer <token>)")
    return token


class RevocationCheck(Protocol):
    async def is_revoked(self, caller: Caller) -> bool: ...


# How often an open stream's token is checked again (expiry, logout, suspension).
STREAM_RECHECK_S = 2.0


class AccessInterceptor(_WrappingInterceptor):
    """Enforces each RPC's AccessRule: verifies the token (zero trust: Envoy checked it too, but
    a call may reach this port directly), rejects revoked tokens, then roles, plans and the
    request values a plan reserves (service_runtime.plans; admins and services are exempt).

    A stream is checked when it opens and again every `stream_recheck_s` while it stays open:
    when its token expires or is revoked, the stream ends with UNAUTHENTICATED."""

    def __init__(
        self,
        verifier: TokenVerifier,
        rules: dict[str, access_pb2.AccessRule],
        revocations: RevocationCheck | None = None,
        stream_recheck_s: float = STREAM_RECHECK_S,
    ) -> None:
        self.verifier = verifier
        self.rules = rules
        self.revocations = revocations
        self.stream_recheck_s = stream_recheck_s

    def around(self, method: str, context: grpc.aio.ServicerContext) -> Any:
        return _AccessScope(self, method, context)

    def _wrap(self, method: str, behavior: Behavior, streaming: bool) -> Behavior:
        rule = self.rules.get(method)
        if not streaming:

            async def guarded_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                async with self.around(method, context) as caller:
                    if caller is not None and rule is not None:
                        check_request(caller, rule, request)
                    return await behavior(request, context)

            return guarded_unary

        async def guarded_stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
            async with self.around(method, context) as caller:
                if caller is not None and rule is not None:
                    check_request(caller, rule, request)
                stream = behavior(request, context)
                items = stream if caller is None else self._while_valid(caller, stream)
                async for item in items:
                    yield item

        return guarded_stream

    async def admit(self, method: str, context: grpc.aio.ServicerContext) -> Caller | None:
        """The verified caller, None for a public RPC; raises when the call is not allowed."""
        if method.startswith(INFRASTRUCTURE_PREFIXES):
            return None  # gRPC health and reflection: infrastructure, not the platform's API
        rule = self.rules.get(method)
        if rule is None:
            raise PermissionDenied(f"{method} is not open to any caller")
        if rule.public:
            return None
        caller = self.verifier.verify(bearer_token(context))
        if self.revocations is not None and await self.revocations.is_revoked(caller):
            raise Unauthenticated("access token has been revoked")
        if not caller.roles & set(rule.roles):
            raise PermissionDenied(f"requires role {' or '.join(rule.roles)}")
        require_plan(caller, rule.plans)
        return caller

    async def still_valid(self, caller: Caller) -> None:
        """Raises when the caller's token has expired or been revoked since the call began."""
        if caller.expires_at and time.time() >= caller.expires_at:
            raise Unauthenticated("access token expired; the stream ends, reconnect with a fresh token")
        if self.revocations is not None and await self.revocations.is_revoked(caller):
            raise Unauthenticated("access token has been revoked; the stream ends")

    async def _while_valid(self, caller: Caller, stream: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """The stream's items for as long as the caller's token stays valid.

        One watchdog task per stream (not one per item). When the token expires or is revoked while
        the stream waits for its next item, the watchdog cancels the streaming task and the
        cancellation becomes the watchdog's error. While gRPC itself is sending an item, it is
        never cancelled (a cancellation landing in gRPC's send ends the call without a status, and
        the client waits for ever): the error is raised as soon as gRPC asks for the next item."""
        streaming_task = asyncio.current_task()
        ended_by: list[DomainError] = []
        waiting_for_item = False  # the only time the watchdog may cancel the stream

        async def watch() -> None:
            while True:
                until_expiry = caller.expires_at - time.time() if caller.expires_at else self.stream_recheck_s
                await asyncio.sleep(max(0.0, min(self.stream_recheck_s, until_expiry)))
                try:
                    await self.still_valid(caller)
                except DomainError as error:
                    ended_by.append(error)
                    if waiting_for_item and streaming_task is not None:
                        streaming_task.cancel()
                    return

        watchdog = asyncio.create_task(watch(), name="stream access watchdog")
        items = aiter(stream)
        try:
            while not ended_by:
                waiting_for_item = True
                try:
                    item = await anext(items)
                except StopAsyncIteration:
                    return
                finally:
                    waiting_for_item = False
                yield item
            raise ended_by[0]
        except asyncio.CancelledError:
            if ended_by and streaming_task is not None:
                streaming_task.uncancel()  # the watchdog's own cancel, handled here
                raise ended_by[0] from None
            raise
        finally:
            watchdog.cancel()


class _AccessScope(_Around):
    def __init__(self, owner: AccessInterceptor, method: str, context: grpc.aio.ServicerContext) -> None:
        self.owner = owner
        self.method = method
        self.context = context
        self.token: contextvars.Token[Caller | None] | None = None

    async def __aenter__(self) -> Caller | None:
        caller = await self.owner.admit(self.method, self.context)
        if caller is not None:
            self.token = caller_var.set(caller)
        return caller

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if self.token is not None:
            # As for the request id (interceptors._RequestScope): a stream closed by the event loop's
            # async-generator finaliser runs in a context of its own, without the value to reset.
            with contextlib.suppress(ValueError):
                caller_var.reset(self.token)
        return False
