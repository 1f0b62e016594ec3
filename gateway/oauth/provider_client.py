"""One provider's side of the authorization-code flow (with PKCE), through authlib.

`authorization_url` builds the redirect of /start; `identity` trades the code of /callback
for tokens and reads who signed in. Both read endpoints from the settings, or, for OpenID
Connect, from the discovery document.
"""

from __future__ import annotations

from typing import Any

import httpx

from gateway.oauth.authlib_compat import AsyncOAuth2Client, OAuthError
from gateway.oauth.errors import OAuthFlowError
from gateway.oauth.oidc import OidcDiscovery
from gateway.oauth.provider_http import bad_answer, http_client, unreachable
from gateway.oauth.providers import Kind, ProviderConfig
from gateway.oauth.state_store import PendingLogin
from gateway.oauth.userinfo import ProviderIdentity, facebook_identity, github_identity, oidc_identity

# Token endpoint errors that mean "this code is no good" (expired, spent, not ours): the
# browser's problem, not the provider's.
CLIENT_SIDE_GRANT_ERRORS = frozenset({"invalid_grant", "invalid_request"})


class ProviderClient:
    def __init__(self, config: ProviderConfig, timeout_s: float) -> None:
        self.config = config
        self.timeout_s = timeout_s
        self.discovery = OidcDiscovery(config.name, config.metadata_url) if config.kind is Kind.OIDC else None

    async def _endpoints(self, client: httpx.AsyncClient) -> tuple[str, str, str]:
        """authorization endpoint, token endpoint, token endpoint auth method."""
        if self.discovery is None:
            # GitHub and Facebook take the client secret in the form body.
            return self.config.authorize_url, self.config.token_url, "client_secret_post"
        metadata = await self.discovery.metadata(client)
        methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        method = "client_secret_basic" if "client_secret_basic" in methods else "client_secret_post"
        return metadata["authorization_endpoint"], metadata["token_endpoint"], method

    def _oauth(self, redirect_uri: str, auth_method: str) -> Any:
        return AsyncOAuth2Client(
            client_id=self.config.client_id,
            client_secret=self.config.client_secret,
            token_endpoint_auth_method=auth_method,
            scope=self.config.scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=self.timeout_s,
        )

    async def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_verifier: str
    ) -> str:
        async with http_client(self.timeout_s) as client:
            authorize, _, method = await self._endpoints(client)
        extra = {"nonce": nonce} if self.config.kind is Kind.OIDC else {}
        async with self._oauth(redirect_uri, method) as oauth:
            url, _ = oauth.create_authorization_url(
                authorize, state=state, code_verifier=code_verifier, **extra
            )
        return str(url)

    async def _exchange(self, client: httpx.AsyncClient, code: str, pending: PendingLogin) -> dict[str, Any]:
        _, token_url, method = await self._endpoints(client)
        name = self.config.name
        async with self._oauth(pending.redirect_uri, method) as oauth:
            try:
                token = await oauth.fetch_token(token_url, code=code, code_verifier=pending.code_verifier)
            except OAuthError as exc:
                error = str(getattr(exc, "error", "") or "oauth_error")
                detail = str(getattr(exc, "description", "") or "")
                message = f"{name} refused the sign-in: {error}" + (f" ({detail})" if detail else "")
                status = 400 if error in CLIENT_SIDE_GRANT_ERRORS else 502
                raise OAuthFlowError(status, message, provider_error=error) from exc
            except httpx.HTTPStatusError as exc:
                raise bad_answer(
                    name, f"the token endpoint answered HTTP {exc.response.status_code}"
                ) from exc
            except httpx.HTTPError as exc:
                raise unreachable(name, exc) from exc
            except ValueError as exc:
                raise bad_answer(name, "the token endpoint did not answer JSON") from exc
        if not isinstance(token, dict) or not token.get("access_token"):
            raise bad_answer(name, "the token endpoint returned no access token")
        return dict(token)

    async def identity(self, code: str, pending: PendingLogin) -> ProviderIdentity:
        async with http_client(self.timeout_s) as client:
            token = await self._exchange(client, code, pending)
            access_token = str(token["access_token"])
            if self.discovery is not None:
                id_token = token.get("id_token")
                if not isinstance(id_token, str) or not id_token:
                    raise bad_answer(self.config.name, "the token endpoint returned no id_token")
                claims = await self.discovery.validate_id_token(
                    client,
                    id_token,
                    client_id=self.config.client_id,
                    nonce=pending.nonce,
                    access_token=access_token,
                )
                return oidc_identity(self.config.name, claims)
            if self.config.kind is Kind.GITHUB:
                return await github_identity(client, self.config.api_url, access_token)
            return await facebook_identity(
                client, self.config.api_url, access_token, self.config.client_secret
            )
