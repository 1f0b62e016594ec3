"""OpenID Connect: the provider's discovery document, its keys, and id_token validation.

The id_token is the identity, so it is checked fully before anything is believed: signature
against the provider's JWKS (asymmetric algorithms only, never `none` or HMAC), `iss` equal to
the discovered issuer, `aud` our client id (and `azp` when present), `exp`/`iat`, the nonce we
stored with the state, and `at_hash` against the access token of the same exchange.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from gateway.oauth.authlib_compat import CodeIDToken
from gateway.oauth.errors import OAuthFlowError
from gateway.oauth.provider_http import bad_answer, get_json

# Asymmetric signatures only: an HMAC id_token would be keyed with our client secret, and
# `none` is no signature at all.
ACCEPTED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"}
)
# Google documents both spellings of its issuer.
ISSUER_ALIASES = {"https://accounts.google.com": ("accounts.google.com",)}
CLOCK_LEEWAY_S = 60
METADATA_TTL_S = 3600.0


class OidcDiscovery:
    """The discovery document and JWKS of one provider, cached across sign-ins."""

    def __init__(self, provider: str, metadata_url: str, ttl_s: float = METADATA_TTL_S) -> None:
        self.provider = provider
        self.metadata_url = metadata_url
        self.ttl_s = ttl_s
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None

    async def metadata(self, client: httpx.AsyncClient) -> dict[str, Any]:
        if self._metadata is None or time.monotonic() - self._metadata_at > self.ttl_s:
            document = await get_json(client, self.provider, self.metadata_url, what="the discovery document")
            required = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
            if not isinstance(document, dict) or any(not document.get(key) for key in required):
                raise bad_answer(self.provider, "the discovery document lacks " + ", ".join(required))
            self._metadata, self._metadata_at, self._keys = document, time.monotonic(), None
        return self._metadata

    async def keys(self, client: httpx.AsyncClient, *, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            metadata = await self.metadata(client)
            document = await get_json(client, self.provider, metadata["jwks_uri"], what="the JWKS")
            try:
                self._keys = KeySet.import_key_set(document)
            except (JoseError, ValueError, TypeError, KeyError) as exc:
                raise bad_answer(self.provider, "the JWKS holds no usable key") from exc
        return self._keys

    async def validate_id_token(
        self, client: httpx.AsyncClient, id_token: str, *, client_id: str, nonce: str, access_token: str
    ) -> dict[str, Any]:
        """The verified claims of `id_token`; OAuthFlowError(502) when any check fails."""
        metadata = await self.metadata(client)
        advertised = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = sorted(ACCEPTED_ALGORITHMS.intersection(advertised))
        if not algorithms:
            raise bad_answer(self.provider, "the provider signs id_tokens with no algorithm we accept")
        registry = JWSRegistry(algorithms=algorithms)
        try:
            try:
                token = jwt.decode(id_token, await self.keys(client), registry=registry)
            except InvalidKeyIdError:
                # The provider rotated its keys since we fetched them.
                token = jwt.decode(id_token, await self.keys(client, refresh=True), registry=registry)
            issuers = [metadata["issuer"], *ISSUER_ALIASES.get(metadata["issuer"], ())]
            claims = CodeIDToken(
                token.claims,
                token.header,
                {
                    "iss": {"essential": True, "values": issuers},
                    "aud": {"essential": True, "value": client_id},
                },
                {"nonce": nonce, "client_id": client_id, "access_token": access_token},
            )
            claims.validate(leeway=CLOCK_LEEWAY_S)
        except (JoseError, ValueError) as exc:
            raise OAuthFlowError(
                502, f"{self.provider} sign-in failed: the id_token is not valid ({exc})"
            ) from exc
        return dict(claims)
