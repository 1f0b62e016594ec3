"""The /start and /callback routes through the gateway app, against a real provider process.

business is stood in for by a small gRPC AuthService that records what the gateway sends
(the end-to-end tests in tests/e2e/test_oauth_flow.py run the real one through Envoy): here
we check the gateway's own duties — state, PKCE, browser binding, the service token, and how
results and failures reach the browser.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import grpc
import httpx
import jwt
import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.config import GatewaySettings
from service_runtime.access import TokenVerifier, keys_from_folder
from tests.support.oidc_provider import OidcProvider, free_port
from trading.identity.v1 import auth_service_pb2, auth_service_pb2_grpc, identity_pb2

START = "/api/auth/oauth/{}/start"
JSON = {"accept": "application/json"}


@dataclass
class RecordingAuthService(auth_service_pb2_grpc.AuthServiceServicer):
    """Answers CompleteOAuthLogin with `reply` (or aborts with `abort`) and keeps each call.
    The other RPCs keep the generated UNIMPLEMENTED answers."""

    reply: auth_service_pb2.CompleteOAuthLoginResponse
    abort: tuple[grpc.StatusCode, str] | None = None
    calls: list[tuple[auth_service_pb2.CompleteOAuthLoginRequest, dict[str, str]]] = field(
        default_factory=list
    )

    def CompleteOAuthLogin(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.calls.append((request, {k: str(v) for k, v in context.invocation_metadata()}))
        if self.abort is not None:
            context.abort(*self.abort)
        return self.reply


TOKENS = auth_service_pb2.CompleteOAuthLoginResponse(
    tokens=identity_pb2.TokenPair(
        access_token="acc.ess.token",
        token_type="Bearer",
        expires_in=900,
        refresh_token="refresh-1",
        refresh_expires_in=604800,
        session_id="sess-1",
    ),
    user_id="user-1",
    created=True,
)
CHALLENGE = auth_service_pb2.CompleteOAuthLoginResponse(
    challenge=identity_pb2.SecondFactorChallenge(
        challenge_token="chal-1", expires_in=300, methods=["totp", "backup_code"]
    ),
    user_id="user-1",
)


@pytest.fixture(scope="module")
def oidc() -> Iterator[OidcProvider]:
    with OidcProvider() as provider:
        yield provider


@pytest.fixture
def business() -> Iterator[tuple[RecordingAuthService, int]]:
    service = RecordingAuthService(reply=TOKENS)  # type: ignore[abstract]  # stubs mark every RPC abstract
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    auth_service_pb2_grpc.add_AuthServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield service, port
    server.stop(0)


@pytest.fixture
def oauth_settings(
    make_settings: Any, oidc: OidcProvider, business: tuple[RecordingAuthService, int]
) -> GatewaySettings:
    values: dict[str, Any] = {k.lower(): v for k, v in oidc.env().items()}
    # Facebook stays off: a provider without a client id is disabled.
    values.update(
        facebook_app_id="",
        business_grpc_port=business[1],
        public_api_url="http://edge.test",
        oauth_redirect_base_url="http://testserver",
    )
    settings: GatewaySettings = make_settings(**values)
    return settings


@pytest.fixture
def client(oauth_settings: GatewaySettings) -> Iterator[TestClient]:
    with TestClient(create_app(oauth_settings)) as test_client:  # one event loop for the whole test
        yield test_client


def _callback_url(client: TestClient, provider: str = "google") -> str:
    """/start, then the provider's auto-approved /authorize: the URL it sends the browser back to."""
    start = client.get(START.format(provider), follow_redirects=False)
    assert start.status_code == 302, start.text
    back = httpx.get(start.headers["location"], follow_redirects=False)
    assert back.status_code == 302, back.text
    return str(back.headers["location"])


def _fragment(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(location).fragment).items()}


def test_start_redirects_to_the_provider_with_state_nonce_and_pkce(
    client: TestClient, oidc: OidcProvider
) -> None:
    res = client.get(START.format("google"), follow_redirects=False)
    assert res.status_code == 302
    assert res.headers["cache-control"] == "no-store"
    target = urlparse(res.headers["location"])
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert f"{target.scheme}://{target.netloc}" == oidc.issuer and target.path == "/authorize"
    assert query["response_type"] == "code" and query["scope"] == "openid email profile"
    assert query["redirect_uri"] == "http://testserver/api/auth/oauth/google/callback"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 43 and len(query["nonce"]) >= 43
    cookie = res.headers["set-cookie"]
    assert "oauth_binding=" in cookie and "HttpOnly" in cookie and "Path=/api/auth/oauth" in cookie
    assert "samesite=lax" in cookie.lower()


def test_each_start_gets_a_fresh_state(client: TestClient) -> None:
    states = {
        parse_qs(
            urlparse(client.get(START.format("github"), follow_redirects=False).headers["location"]).query
        )["state"][0]
        for _ in range(3)
    }
    assert len(states) == 3


def test_start_answers_json_when_asked(client: TestClient, oidc: OidcProvider) -> None:
    res = client.get(START.format("github"), headers=JSON)
    assert res.status_code == 200
    assert res.json()["authorization_url"].startswith(f"{oidc.issuer}/login/oauth/authorize?")


@pytest.mark.parametrize(
    "path", [START.format("facebook"), "/api/auth/oauth/facebook/callback?state=x&code=y"]
)
def test_a_disabled_provider_is_404_by_name(client: TestClient, path: str) -> None:
    res = client.get(path, headers=JSON, follow_redirects=False)
    assert res.status_code == 404
    assert res.json() == {
        "error": "not_found",
        "message": "sign-in with facebook is not enabled on this server",
        "details": [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "", "domain": "facebook"}
        ],
        "request_id": res.headers["x-request-id"],
    }


def test_an_unknown_provider_is_404(client: TestClient) -> None:
    res = client.get(START.format("myspace"))
    assert res.status_code == 404 and "unknown sign-in provider 'myspace'" in res.json()["message"]


def test_a_full_sign_in_redirects_with_tokens_in_the_fragment(
    client: TestClient,
    oidc: OidcProvider,
    business: tuple[RecordingAuthService, int],
    oauth_settings: GatewaySettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)  # as in production: every log call is rendered
    service, _ = business
    oidc.set_next_user("g-500", "new.user@example.com", email_verified=True, name="New User")
    res = client.get(
        _callback_url(client),
        headers={"user-agent": "pytest-browser/1.0", "x-forwarded-for": "203.0.113.9, 198.51.100.7"},
        follow_redirects=False,
    )
    assert res.status_code == 302, res.text
    assert res.headers["location"].startswith("http://edge.test/oauth/callback#")  # the web app's page
    assert _fragment(res.headers["location"]) == {
        "access_token": "acc.ess.token",
        "token_type": "Bearer",
        "expires_in": "900",
        "session_id": "sess-1",
    }
    assert res.headers["cache-control"] == "no-store" and res.headers["referrer-policy"] == "no-referrer"
    cookies = res.headers.get_list("set-cookie")
    assert any(c.startswith('oauth_binding=""') for c in cookies)  # the binding cookie is cleared
    # The refresh token only as the edge's httpOnly cookie (plain http here: no __Secure- prefix).
    refresh = sorted(c for c in cookies if c.startswith("refresh="))
    assert refresh == [
        f"refresh=refresh-1; HttpOnly; Max-Age=604800; Path={path}; SameSite=strict"
        for path in ("/api/auth/", "/trading.identity.v1.AuthService/")
    ]

    ((request, metadata),) = service.calls
    assert (
        request.provider,
        request.subject,
        request.email,
        request.email_verified,
        request.display_name,
    ) == ("google", "g-500", "new.user@example.com", True, "New User")
    # Envoy appends the address it saw: the last entry; earlier ones are the client's word.
    assert request.client_ip == "198.51.100.7" and request.user_agent == "pytest-browser/1.0"
    # The service token: signed by the gateway's key, role "service", one minute.
    bearer = metadata["authorization"].removeprefix("Bearer ")
    verifier = TokenVerifier(
        keys_from_folder(Path(oauth_settings.jwt_keys_dir)),
        oauth_settings.jwt_issuer,
        oauth_settings.jwt_audience,
    )
    caller = verifier.verify(bearer)
    assert (
        caller.subject == "service:gateway" and caller.roles == frozenset({"service"}) and caller.plan == ""
    )
    claims = jwt.decode(bearer, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 60 and claims["nbf"] == claims["iat"] and claims["jti"]


def test_a_2fa_account_gets_a_challenge_in_the_fragment(
    client: TestClient, business: tuple[RecordingAuthService, int]
) -> None:
    business[0].reply = CHALLENGE
    res = client.get(_callback_url(client, "github"), follow_redirects=False)
    assert res.status_code == 302
    assert _fragment(res.headers["location"]) == {
        "challenge_token": "chal-1",
        "expires_in": "300",
        "methods": "totp,backup_code",
    }
    assert "access_token" not in res.headers["location"]
    assert not any(c.startswith("refresh=") for c in res.headers.get_list("set-cookie"))


def test_json_callers_get_the_rest_shaped_result(client: TestClient) -> None:
    res = client.get(_callback_url(client), headers=JSON)
    assert res.status_code == 200
    body = res.json()
    assert body["tokens"]["accessToken"] == "acc.ess.token" and body["tokens"]["sessionId"] == "sess-1"
    assert body["userId"] == "user-1" and body["created"] is True and body["linked"] is False


def test_a_replayed_callback_is_refused_without_calling_the_provider(
    client: TestClient, oidc: OidcProvider, business: tuple[RecordingAuthService, int]
) -> None:
    url = _callback_url(client)
    assert client.get(url, headers=JSON).status_code == 200
    before = oidc.stats()
    replay = client.get(url, headers=JSON)
    assert replay.status_code == 400
    assert replay.json()["message"] == "invalid sign-in state: unknown, expired or already used; start again"
    assert "tokens" not in replay.json()
    assert oidc.stats()["token"] == before["token"]  # the code never reached the provider again
    assert len(business[0].calls) == 1


@pytest.mark.parametrize("mangle", ["tamper", "drop"])
def test_a_tampered_or_missing_state_is_refused(client: TestClient, oidc: OidcProvider, mangle: str) -> None:
    url = _callback_url(client)
    parts = urlparse(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    if mangle == "tamper":
        query["state"] = query["state"][:-2] + ("AA" if not query["state"].endswith("AA") else "BB")
    else:
        del query["state"]
    before = oidc.stats()
    res = client.get(str(httpx.URL(url.split("?")[0], params=query)), headers=JSON)
    assert res.status_code == 400 and res.json()["error"] == "invalid_argument"
    assert "state" in res.json()["message"]
    assert oidc.stats()["token"] == before["token"]


def test_a_state_from_another_provider_is_refused(client: TestClient) -> None:
    url = _callback_url(client, "google")
    res = client.get(url.replace("/oauth/google/", "/oauth/github/"), headers=JSON)
    assert res.status_code == 400 and "state" in res.json()["message"]


def test_a_callback_in_another_browser_is_refused(
    client: TestClient, business: tuple[RecordingAuthService, int]
) -> None:
    url = _callback_url(client)  # e.g. an attacker's own sign-in, mailed to a victim (login CSRF)
    client.cookies.clear()  # the victim's browser has no binding cookie for it
    res = client.get(url, headers=JSON)
    assert res.status_code == 400 and "another browser" in res.json()["message"]
    client.cookies.set("oauth_binding", "guessed", path="/api/auth/oauth")
    assert client.get(url, headers=JSON).status_code == 400  # and the state is spent anyway
    assert business[0].calls == []


def test_a_provider_error_is_a_400_with_its_message(client: TestClient, oidc: OidcProvider) -> None:
    oidc.fail_next_authorization("access_denied", "The user denied the request")
    res = client.get(_callback_url(client), headers=JSON)
    assert res.status_code == 400
    assert res.json() == {
        "error": "invalid_argument",
        "message": "google did not sign you in: access_denied (The user denied the request)",
        # ErrorInfo: the provider's own error code (reason) and the provider (domain).
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "access_denied",
                "domain": "google",
            }
        ],
        "request_id": res.headers["x-request-id"],
    }


def test_a_replayed_code_with_a_fresh_state_gets_no_tokens(
    client: TestClient, business: tuple[RecordingAuthService, int]
) -> None:
    first = _callback_url(client)
    assert client.get(first, headers=JSON).status_code == 200
    old_code = parse_qs(urlparse(first).query)["code"][0]
    fresh = urlparse(_callback_url(client))  # a new sign-in: new state, new binding cookie
    query = {k: v[0] for k, v in parse_qs(fresh.query).items()} | {"code": old_code}
    res = client.get(str(httpx.URL(fresh._replace(query="").geturl(), params=query)), headers=JSON)
    assert res.status_code == 400 and res.json()["details"][0]["reason"] == "invalid_grant"
    assert "tokens" not in res.json() and len(business[0].calls) == 1


@pytest.mark.parametrize(
    ("code", "status", "message"),
    [
        (grpc.StatusCode.UNAVAILABLE, 503, "sign-in is unavailable: the account service cannot be reached"),
        (grpc.StatusCode.PERMISSION_DENIED, 403, "the account is suspended"),
        (grpc.StatusCode.INVALID_ARGUMENT, 400, "email: not a valid address"),
        (grpc.StatusCode.UNAUTHENTICATED, 401, "sign-in refused"),
        (grpc.StatusCode.INTERNAL, 502, "sign-in failed: the account service refused the gateway's request"),
    ],
)
def test_business_errors_become_clean_json(
    client: TestClient,
    business: tuple[RecordingAuthService, int],
    code: grpc.StatusCode,
    status: int,
    message: str,
) -> None:
    details = {403: "the account is suspended", 400: "email: not a valid address", 401: "sign-in refused"}
    business[0].abort = (code, details.get(status, "x"))
    res = client.get(_callback_url(client), headers=JSON, follow_redirects=False)
    assert res.status_code == status
    assert res.json()["message"] == message and "location" not in res.headers


def test_a_browser_goes_back_to_the_web_app_with_the_error_in_the_fragment(
    client: TestClient, oidc: OidcProvider, business: tuple[RecordingAuthService, int]
) -> None:
    oidc.fail_next_authorization("access_denied", "The user denied the request")
    res = client.get(_callback_url(client), follow_redirects=False)
    assert res.status_code == 302 and res.headers["location"].startswith("http://edge.test/oauth/callback#")
    assert _fragment(res.headers["location"]) == {
        "error": "access_denied",
        "error_description": "google did not sign you in: access_denied (The user denied the request)",
    }
    assert res.headers["cache-control"] == "no-store"

    business[0].abort = (grpc.StatusCode.PERMISSION_DENIED, "the account is suspended")
    refused = client.get(_callback_url(client), follow_redirects=False)
    assert refused.status_code == 302
    assert _fragment(refused.headers["location"]) == {
        "error": "permission_denied",
        "error_description": "the account is suspended",
    }
    assert not any(c.startswith("refresh=") for c in refused.headers.get_list("set-cookie"))


def test_business_down_is_a_503(make_settings: Any, oidc: OidcProvider) -> None:
    values = {k.lower(): v for k, v in oidc.env().items()}
    settings = make_settings(**values, business_grpc_port=free_port(), oauth_business_timeout_s=2)
    with TestClient(create_app(settings)) as client:
        res = client.get(_callback_url(client), headers=JSON)
    assert res.status_code == 503 and res.json()["error"] == "unavailable"


def test_the_enabled_providers_are_listed_publicly(client: TestClient) -> None:
    reply = client.get("/api/auth/oauth/providers")  # no token, no cookie
    assert reply.status_code == 200
    # Google and GitHub point at the local provider; Facebook has no client id here.
    assert reply.json() == {
        "providers": [
            {"name": "google", "startPath": "/api/auth/oauth/google/start"},
            {"name": "github", "startPath": "/api/auth/oauth/github/start"},
        ]
    }
    assert client.get(reply.json()["providers"][0]["startPath"], follow_redirects=False).status_code == 302


def test_no_provider_enabled_is_an_empty_list(make_settings: Any) -> None:
    settings = make_settings(google_client_id="", github_client_id="", facebook_app_id="")
    with TestClient(create_app(settings)) as plain:
        assert plain.get("/api/auth/oauth/providers").json() == {"providers": []}
