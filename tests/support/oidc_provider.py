"""A real OpenID Connect / OAuth 2.0 provider for the tests, run in its own process.

`python -m tests.support.oidc_provider --port N` serves, on one port, three providers the
gateway knows how to talk to:

- OpenID Connect (stands in for Google): `/.well-known/openid-configuration`, `/authorize`,
  `/token`, `/jwks`, `/userinfo`; id_tokens signed RS256 (joserfc, authlib's JOSE library)
  with `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`, `at_hash`, `email`, `email_verified`, `name`.
- GitHub-style OAuth 2.0: `/login/oauth/authorize`, `/login/oauth/access_token`,
  `/api/user`, `/api/user/emails`.
- Facebook-style OAuth 2.0: `/facebook/dialog/oauth`, `/facebook/oauth/access_token`,
  `/facebook/me` (checks `appsecret_proof`).

It behaves like a strict production provider, so the gateway's mistakes show: clients
authenticate (basic or form), PKCE S256 is required, a code lives 60 s, is bound to its
client and redirect_uri and works once (a replay gets `invalid_grant` and revokes the tokens
issued from it). Authorization is auto-approved for the "signed-in" test user, set with
`POST /test/next-user`; `/test/next-error` makes the next authorization fail and
`/test/next-id-token` tampers with the next id_token. `OidcProvider` drives it from a test.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from joserfc import jwt
from joserfc.jwk import RSAKey

from tools.die_with_parent import under_parent

ROOT = Path(__file__).resolve().parents[2]
CODE_TTL_S = 60
ACCESS_TOKEN_TTL_S = 3600
ID_TOKEN_TTL_S = 300

# The registered clients: (client id, secret) per flavour.
CLIENTS = {
    "google": ("google-test-client.apps.local", "google-test-secret-" + "g" * 16),
    "github": ("github-test-client", "github-test-secret-" + "h" * 16),
    "facebook": ("100200300400500", "facebook-test-secret-" + "f" * 16),
}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def s256(verifier: str) -> str:
    return _b64url(hashlib.sha256(verifier.encode()).digest())


# --- the provider process ---------------------------------------------------------------


@dataclass
class TestUser:
    sub: str = "10001"
    email: str = "oauth.user@example.com"
    email_verified: bool = True
    name: str = "OAuth User"


@dataclass
class Grant:
    client: str  # flavour: google, github, facebook
    redirect_uri: str
    code_challenge: str
    nonce: str
    scope: str
    user: TestUser
    expires_at: float
    used: bool = False
    access_tokens: list[str] = field(default_factory=list)


@dataclass
class ProviderState:
    issuer: str
    user: TestUser = field(default_factory=TestUser)
    next_error: dict[str, str] | None = None
    next_id_token: dict[str, Any] | None = None
    codes: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, tuple[str, TestUser, float]] = field(
        default_factory=dict
    )  # token -> (client, user, exp)
    stats: dict[str, int] = field(default_factory=lambda: {"authorize": 0, "token": 0, "token_ok": 0})


def create_app(issuer: str) -> FastAPI:  # noqa: C901 - its routes are closures over one key and store
    """The provider's ASGI app."""
    key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1", "use": "sig", "alg": "RS256"})
    # Same kid, another key: what a forged id_token would be signed with.
    forger = RSAKey.generate_key(2048, parameters={"kid": "test-key-1", "use": "sig", "alg": "RS256"})
    state = ProviderState(issuer=issuer)
    app = FastAPI(title="test OIDC provider", docs_url=None, redoc_url=None, openapi_url=None)

    def oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
        return JSONResponse(
            {"error": error, "error_description": description},
            status_code=status,
            headers={"Cache-Control": "no-store"},
        )

    # authorization endpoint (all three flavours) ---------------------------------------

    def authorize(flavour: str, request: Request) -> Any:
        state.stats["authorize"] += 1
        q = request.query_params
        client_id, redirect_uri = q.get("client_id", ""), q.get("redirect_uri", "")
        if client_id != CLIENTS[flavour][0] or not redirect_uri.startswith(("http://", "https://")):
            # Never redirect to an unverified client: answer here (RFC 6749 §4.1.2.1).
            return oauth_error("invalid_request", "unknown client_id or bad redirect_uri")
        back: dict[str, str] = {"state": q.get("state", "")}
        if state.next_error is not None:
            back.update(state.next_error)
            state.next_error = None
        elif q.get("response_type") != "code":
            back.update(error="unsupported_response_type", error_description="only code is supported")
        elif q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            back.update(error="invalid_request", error_description="PKCE with S256 is required")
        else:
            code = secrets.token_urlsafe(24)
            state.codes[code] = Grant(
                client=flavour,
                redirect_uri=redirect_uri,
                code_challenge=q["code_challenge"],
                nonce=q.get("nonce", ""),
                scope=q.get("scope", ""),
                user=state.user,
                expires_at=time.time() + CODE_TTL_S,
            )
            back["code"] = code
        separator = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(redirect_uri + separator + urlencode(back), status_code=302)

    @app.get("/authorize")
    def google_authorize(request: Request) -> Any:
        return authorize("google", request)

    @app.get("/login/oauth/authorize")
    def github_authorize(request: Request) -> Any:
        return authorize("github", request)

    @app.get("/facebook/dialog/oauth")
    def facebook_authorize(request: Request) -> Any:
        return authorize("facebook", request)

    # token endpoint -----------------------------------------------------------------------

    def id_token(grant: Grant, access_token: str) -> str:
        now = int(time.time())
        client_id = CLIENTS[grant.client][0]
        claims: dict[str, Any] = {
            "iss": state.issuer,
            "sub": grant.user.sub,
            "aud": client_id,
            "azp": client_id,
            "iat": now,
            "exp": now + ID_TOKEN_TTL_S,
            "auth_time": now,
            "at_hash": _b64url(hashlib.sha256(access_token.encode()).digest()[:16]),
            "email": grant.user.email,
            "email_verified": grant.user.email_verified,
            "name": grant.user.name,
        }
        if grant.nonce:
            claims["nonce"] = grant.nonce
        signer = key
        if state.next_id_token is not None:
            tamper, state.next_id_token = state.next_id_token, None
            signer = forger if tamper.get("forge_signature") else key
            for name, value in dict(tamper.get("overrides") or {}).items():
                if value is None:
                    claims.pop(name, None)
                else:
                    claims[name] = value
        return jwt.encode({"alg": "RS256", "kid": "test-key-1"}, claims, signer)

    async def token(flavour: str, request: Request) -> JSONResponse:
        state.stats["token"] += 1
        # Parsed by hand: Starlette's form parser needs python-multipart, which we do not ship.
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                return oauth_error("invalid_client", "bad basic credentials", 401)
        expected_id, expected_secret = CLIENTS[flavour]
        if client_id != expected_id or not hmac.compare_digest(secret, expected_secret):
            return oauth_error("invalid_client", "client authentication failed", 401)
        if form.get("grant_type") != "authorization_code":
            return oauth_error("unsupported_grant_type", "only authorization_code is supported")
        grant = state.codes.get(form.get("code", ""))
        if grant is None or grant.client != flavour:
            return oauth_error("invalid_grant", "unknown authorization code")
        if grant.used:
            # RFC 6749 §4.1.2: a code used twice revokes what it was exchanged for.
            for spent in grant.access_tokens:
                state.tokens.pop(spent, None)
            return oauth_error("invalid_grant", "authorization code already used")
        grant.used = True
        if grant.expires_at < time.time():
            return oauth_error("invalid_grant", "authorization code expired")
        if form.get("redirect_uri", "") != grant.redirect_uri:
            return oauth_error("invalid_grant", "redirect_uri does not match the authorization request")
        verifier = form.get("code_verifier", "")
        if not verifier or not hmac.compare_digest(s256(verifier), grant.code_challenge):
            return oauth_error("invalid_grant", "PKCE verification failed")
        access_token = secrets.token_urlsafe(32)
        grant.access_tokens.append(access_token)
        state.tokens[access_token] = (flavour, grant.user, time.time() + ACCESS_TOKEN_TTL_S)
        body: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_TTL_S,
            "scope": grant.scope,
        }
        if "openid" in grant.scope.split():
            body["id_token"] = id_token(grant, access_token)
        state.stats["token_ok"] += 1
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    @app.post("/token")
    async def google_token(request: Request) -> JSONResponse:
        return await token("google", request)

    @app.post("/login/oauth/access_token")
    async def github_token(request: Request) -> JSONResponse:
        return await token("github", request)

    @app.post("/facebook/oauth/access_token")
    async def facebook_token(request: Request) -> JSONResponse:
        return await token("facebook", request)

    # user APIs ----------------------------------------------------------------------------

    def bearer_user(request: Request, flavour: str) -> tuple[TestUser, str] | None:
        auth = request.headers.get("authorization", "")
        value = auth[7:] if auth.lower().startswith("bearer ") else ""
        found = state.tokens.get(value)
        if found is None or found[0] != flavour or found[2] < time.time():
            return None
        return found[1], value

    def unauthorized() -> JSONResponse:
        return JSONResponse(
            {"error": "invalid_token"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )

    @app.get("/userinfo")
    def userinfo(request: Request) -> JSONResponse:
        found = bearer_user(request, "google")
        if found is None:
            return unauthorized()
        user = found[0]
        return JSONResponse(
            {"sub": user.sub, "email": user.email, "email_verified": user.email_verified, "name": user.name}
        )

    @app.get("/api/user")
    def github_user(request: Request) -> JSONResponse:
        found = bearer_user(request, "github")
        if found is None:
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        user = found[0]
        github_id: int | str = int(user.sub) if user.sub.isdigit() else user.sub
        # GitHub shows only a public email here, verified or not; /user/emails says which is.
        return JSONResponse(
            {
                "id": github_id,
                "login": user.name.replace(" ", "-").lower() or "octo",
                "name": user.name,
                "email": user.email,
            }
        )

    @app.get("/api/user/emails")
    def github_emails(request: Request) -> Any:
        found = bearer_user(request, "github")
        if found is None:
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        user = found[0]
        return [
            {
                "email": f"{user.sub}+noreply@users.noreply.example",
                "primary": False,
                "verified": False,
                "visibility": None,
            },
            {"email": user.email, "primary": True, "verified": user.email_verified, "visibility": "private"},
        ]

    @app.get("/facebook/me")
    def facebook_me(request: Request) -> JSONResponse:
        found = bearer_user(request, "facebook")
        if found is None:
            return JSONResponse(
                {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}},
                status_code=400,
            )
        user, value = found
        proof = hmac.new(CLIENTS["facebook"][1].encode(), value.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.query_params.get("appsecret_proof", ""), proof):
            return JSONResponse(
                {
                    "error": {
                        "message": "Invalid appsecret_proof provided in the API argument",
                        "type": "GraphMethodException",
                        "code": 100,
                    }
                },
                status_code=400,
            )
        fields = request.query_params.get("fields", "id").split(",")
        # Facebook returns only a confirmed email, and none otherwise.
        values = {"id": user.sub, "name": user.name, "email": user.email if user.email_verified else None}
        return JSONResponse({k: values[k] for k in fields if k in values and values[k] is not None})

    # discovery --------------------------------------------------------------------------------

    @app.get("/.well-known/openid-configuration")
    def discovery() -> dict[str, Any]:
        return {
            "issuer": state.issuer,
            "authorization_endpoint": f"{state.issuer}/authorize",
            "token_endpoint": f"{state.issuer}/token",
            "userinfo_endpoint": f"{state.issuer}/userinfo",
            "jwks_uri": f"{state.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "email", "email_verified", "name"],
        }

    @app.get("/jwks")
    def jwks() -> dict[str, Any]:
        return {"keys": [key.as_dict(private=False)]}

    # test controls ----------------------------------------------------------------------------

    @app.post("/test/next-user")
    async def next_user(request: Request) -> dict[str, str]:
        body = await request.json()
        state.user = TestUser(
            sub=str(body["sub"]),
            email=str(body.get("email", "")),
            email_verified=bool(body.get("email_verified", True)),
            name=str(body.get("name", "")),
        )
        return {"status": "ok"}

    @app.post("/test/next-error")
    async def next_error(request: Request) -> dict[str, str]:
        body = await request.json()
        state.next_error = {
            "error": str(body["error"]),
            "error_description": str(body.get("error_description", "")),
        }
        return {"status": "ok"}

    @app.post("/test/next-id-token")
    async def next_id_token(request: Request) -> dict[str, str]:
        state.next_id_token = dict(await request.json())
        return {"status": "ok"}

    @app.get("/test/stats")
    def stats() -> dict[str, int]:
        return dict(state.stats)

    return app


def _main() -> None:
    parser = argparse.ArgumentParser(description="A local OpenID Connect provider for tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        create_app(f"http://{args.host}:{args.port}"),
        host=args.host,
        port=args.port,
        log_level="warning",
        server_header=False,
    )


# --- the driver the tests use ---------------------------------------------------------------


class OidcProvider:
    """Starts the provider process and steers it: which user signs in, what goes wrong next."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="oidc-provider-", suffix=".log", delete=False)  # noqa: SIM115

    @property
    def issuer(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 30.0) -> OidcProvider:
        self._process = subprocess.Popen(
            # The provider must not outlive a killed test run.
            under_parent(
                [
                    sys.executable,
                    "-m",
                    "tests.support.oidc_provider",
                    "--host",
                    self.host,
                    "--port",
                    str(self.port),
                ]
            ),
            cwd=ROOT,
            env=dict(os.environ),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"OIDC provider exited (code {self._process.returncode}): {self.log_text()}"
                )
            try:
                if httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"OIDC provider not ready after {timeout_s:.0f}s: {self.log_text()}")
            time.sleep(0.1)

    def log_text(self) -> str:
        return Path(self._log.name).read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def __enter__(self) -> OidcProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """The gateway settings that point Google, GitHub and Facebook sign-in at this provider."""
        base = self.issuer
        return {
            "GOOGLE_CLIENT_ID": CLIENTS["google"][0],
            "GOOGLE_CLIENT_SECRET": CLIENTS["google"][1],
            "OAUTH_GOOGLE_METADATA_URL": f"{base}/.well-known/openid-configuration",
            "GITHUB_CLIENT_ID": CLIENTS["github"][0],
            "GITHUB_CLIENT_SECRET": CLIENTS["github"][1],
            "OAUTH_GITHUB_AUTHORIZE_URL": f"{base}/login/oauth/authorize",
            "OAUTH_GITHUB_TOKEN_URL": f"{base}/login/oauth/access_token",
            "OAUTH_GITHUB_API_URL": f"{base}/api",
            "FACEBOOK_APP_ID": CLIENTS["facebook"][0],
            "FACEBOOK_APP_SECRET": CLIENTS["facebook"][1],
            "OAUTH_FACEBOOK_AUTHORIZE_URL": f"{base}/facebook/dialog/oauth",
            "OAUTH_FACEBOOK_TOKEN_URL": f"{base}/facebook/oauth/access_token",
            "OAUTH_FACEBOOK_API_URL": f"{base}/facebook",
        }

    def _post(self, path: str, body: dict[str, Any]) -> None:
        httpx.post(f"{self.issuer}{path}", json=body, timeout=5).raise_for_status()

    def set_next_user(self, sub: str, email: str, email_verified: bool = True, name: str = "") -> None:
        """The user every following authorization signs in (until changed)."""
        self._post(
            "/test/next-user", {"sub": sub, "email": email, "email_verified": email_verified, "name": name}
        )

    def fail_next_authorization(self, error: str, description: str = "") -> None:
        """The next /authorize redirects back with `error=` instead of a code."""
        self._post("/test/next-error", {"error": error, "error_description": description})

    def tamper_next_id_token(self, forge_signature: bool = False, **overrides: Any) -> None:
        """The next id_token gets these claims (None removes one), or a signature by another key."""
        self._post("/test/next-id-token", {"forge_signature": forge_signature, "overrides": overrides})

    def stats(self) -> dict[str, int]:
        """Request counts: authorize, token (all), token_ok (codes exchanged)."""
        reply = httpx.get(f"{self.issuer}/test/stats", timeout=5)
        reply.raise_for_status()
        return dict(reply.json())


if __name__ == "__main__":
    _main()
