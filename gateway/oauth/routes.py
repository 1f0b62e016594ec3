"""GET /api/auth/oauth/{provider}/start and /callback: the browser's side of the sign-in.

/start remembers a fresh state, nonce and PKCE verifier server side and sends the browser to
the provider; a cookie binds the sign-in to the browser that started it (no login CSRF by a
mailed callback link). /callback spends the state (once only), trades the code for the
identity, lets business decide the account, and answers with tokens or a 2FA challenge.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.responses import Response

from gateway.client_address import client_ip
from gateway.config import GatewaySettings
from gateway.errors import error_info, error_response
from gateway.oauth.business import BusinessAuth
from gateway.oauth.errors import OAuthFlowError
from gateway.oauth.provider_client import ProviderClient
from gateway.oauth.providers import provider_configs
from gateway.oauth.result import NO_STORE, json_result, redirect_with_error, redirect_with_result
from gateway.oauth.state_store import PendingLogin, StateStore, make_state_store
from service_runtime.signing_keys import SigningKeyStore

log = logging.getLogger(__name__)

PREFIX = "/api/auth/oauth"
COOKIE = "oauth_binding"
# The web app's page that completes a sign-in from the fragment (web/src/features/auth).
WEB_CALLBACK = "/oauth/callback"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


class OAuthRoutes:
    def __init__(
        self,
        settings: GatewaySettings,
        keys: SigningKeyStore,
        *,
        state_store: StateStore | None = None,
        business: BusinessAuth | None = None,
    ) -> None:
        self.settings = settings
        self.configs = provider_configs(settings)
        self.clients = {
            name: ProviderClient(config, settings.oauth_http_timeout_s)
            for name, config in self.configs.items()
            if config.enabled
        }
        self.states = state_store or make_state_store(settings.redis_url)
        self.business = business or BusinessAuth(settings, keys)

    def client(self, provider: str) -> ProviderClient:
        found = self.clients.get(provider)
        if found is None:
            if provider in self.configs:
                raise OAuthFlowError(404, f"sign-in with {provider} is not enabled on this server")
            raise OAuthFlowError(
                404, f"unknown sign-in provider {provider!r}; known: google, facebook, github"
            )
        return found

    def redirect_uri(self, request: Request, provider: str) -> str:
        base = self.settings.oauth_redirect_base_url or self.settings.public_api_url or str(request.base_url)
        return f"{base.rstrip('/')}{PREFIX}/{provider}/callback"

    def success_target(self) -> str:
        """Where a browser goes when the sign-in ends, well or not: the web app's OAuth page,
        served through the edge (PUBLIC_API_URL), unless OAUTH_SUCCESS_REDIRECT says otherwise."""
        return (
            self.settings.oauth_success_redirect
            or f"{self.settings.public_api_url.rstrip('/')}{WEB_CALLBACK}"
        )

    async def start(self, provider: str, request: Request) -> Response:
        client = self.client(provider)
        state, nonce, verifier = (
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(48),
        )
        binding = secrets.token_urlsafe(32)
        redirect_uri = self.redirect_uri(request, provider)
        url = await client.authorization_url(
            redirect_uri=redirect_uri, state=state, nonce=nonce, code_verifier=verifier
        )
        pending = PendingLogin(
            provider=provider,
            code_verifier=verifier,
            nonce=nonce,
            redirect_uri=redirect_uri,
            created_at=time.time(),
            binding_digest=_digest(binding),
        )
        await self.states.put(state, pending, self.settings.oauth_state_ttl_s)
        response: Response = (
            JSONResponse({"authorization_url": url}, headers=NO_STORE)
            if wants_json(request)
            else RedirectResponse(url, status_code=302, headers=NO_STORE)
        )
        # Lax: the cookie comes back on the provider's top-level redirect to the callback.
        response.set_cookie(
            COOKIE,
            binding,
            max_age=self.settings.oauth_state_ttl_s,
            path=PREFIX,
            httponly=True,
            samesite="lax",
            secure=redirect_uri.startswith("https://"),
        )
        return response

    async def callback(self, provider: str, request: Request) -> Response:
        client = self.client(provider)
        query = request.query_params
        state = query.get("state", "")
        # Spend the state first, whatever else the request says: a callback URL works once.
        pending = await self.states.take(state) if state else None
        if query.get("error"):
            description = query.get("error_description", "")
            raise OAuthFlowError(
                400,
                f"{provider} did not sign you in: {query['error']}"
                + (f" ({description})" if description else ""),
                provider_error=query["error"],
            )
        if pending is None or pending.provider != provider:
            raise OAuthFlowError(400, "invalid sign-in state: unknown, expired or already used; start again")
        if not hmac.compare_digest(_digest(request.cookies.get(COOKIE, "")), pending.binding_digest):
            raise OAuthFlowError(400, "this sign-in was started in another browser; start again")
        code = query.get("code", "")
        if not code:
            raise OAuthFlowError(400, f"{provider} returned no authorization code")
        identity = await client.identity(code, pending)
        reply = await self.business.complete_login(
            identity,
            client_ip=client_ip(request),
            user_agent=request.headers.get("user-agent", "")[:300],
            request_id=request.headers.get("x-request-id", ""),
        )
        log.info(
            "oauth sign-in",
            extra={"provider": provider, "account_created": reply.created, "account_linked": reply.linked},
        )
        response = (
            json_result(reply)
            if wants_json(request)
            else redirect_with_result(
                self.success_target(), reply, secure=pending.redirect_uri.startswith("https://")
            )
        )
        response.delete_cookie(COOKIE, path=PREFIX)
        return response

    async def close(self) -> None:
        await self.states.close()
        await self.business.close()


def _error(exc: OAuthFlowError, provider: str) -> JSONResponse:
    # ErrorInfo: the provider (domain) and its own error code (reason), when it gave one.
    details = [error_info(exc.provider_error, provider)]
    response = error_response(exc.status, exc.message, headers=NO_STORE, details=details)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


def router(settings: GatewaySettings, keys: SigningKeyStore, routes: OAuthRoutes | None = None) -> APIRouter:
    oauth = routes or OAuthRoutes(settings, keys)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await oauth.close()

    api = APIRouter(lifespan=lifespan)

    @api.get(PREFIX + "/providers")
    async def oauth_providers() -> JSONResponse:
        """Public: the sign-in providers enabled on this server (those with a client id), in a
        fixed order, each with the path that starts its sign-in, so the web app shows only
        buttons that work."""
        enabled = [name for name in ("google", "github", "facebook") if name in oauth.clients]
        return JSONResponse(
            {"providers": [{"name": name, "startPath": f"{PREFIX}/{name}/start"} for name in enabled]},
            headers={"cache-control": "public, max-age=60"},
        )

    @api.get(PREFIX + "/{provider}/start", response_model=None)
    async def oauth_start(provider: str, request: Request) -> Response:
        try:
            return await oauth.start(provider, request)
        except OAuthFlowError as exc:
            return _error(exc, provider)

    @api.get(PREFIX + "/{provider}/callback", response_model=None)
    async def oauth_callback(provider: str, request: Request) -> Response:
        try:
            return await oauth.callback(provider, request)
        except OAuthFlowError as exc:
            if exc.status >= 500:
                log.warning(
                    "oauth sign-in failed",
                    extra={"provider": provider, "status": exc.status, "error": exc.message},
                )
            if wants_json(request):
                return _error(exc, provider)
            # A browser goes back to the web app, which shows what went wrong.
            response = redirect_with_error(oauth.success_target(), exc)
            response.delete_cookie(COOKIE, path=PREFIX)
            return response

    return api
