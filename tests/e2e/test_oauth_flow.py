"""OAuth / OpenID Connect sign-in end to end, through Envoy: gateway redirects and callbacks,
the local provider process (tests/support/oidc_provider.py) as Google, GitHub and Facebook,
and business deciding the account (create, link by verified email, refuse)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import pytest

from tests.conftest import EDGE, PAGE_ORIGIN, bearer
from tests.support.oidc_provider import OidcProvider
from tools.supervisor import Stack

JSON = {"accept": "application/json"}


@pytest.fixture
def browser(stack: Stack) -> Iterator[httpx.Client]:
    """One browser: keeps the gateway's binding cookie between /start and /callback."""
    with httpx.Client(base_url=EDGE, timeout=15) as client:
        yield client


def _email() -> str:
    return f"oauth-{uuid.uuid4().hex[:12]}@example.com"


def callback_url(browser: httpx.Client, provider: str) -> str:
    """/start through Envoy, then the provider's auto-approved /authorize."""
    start = browser.get(f"/api/auth/oauth/{provider}/start", follow_redirects=False)
    assert start.status_code == 302, start.text
    back = httpx.get(start.headers["location"], follow_redirects=False, timeout=10)
    assert back.status_code == 302, back.text
    url = str(back.headers["location"])
    assert url.startswith(f"{EDGE}/api/auth/oauth/{provider}/callback?")  # the redirect_uri is Envoy's
    return url


def sign_in(browser: httpx.Client, provider: str = "google") -> httpx.Response:
    return browser.get(callback_url(browser, provider), headers=JSON)


def test_a_new_google_user_gets_an_account_and_working_tokens(
    browser: httpx.Client, oidc_provider: OidcProvider
) -> None:
    email = _email()
    oidc_provider.set_next_user(f"g-{uuid.uuid4().hex}", email, email_verified=True, name="Grace Hopper")
    res = sign_in(browser)
    assert res.status_code == 200, res.text
    assert res.headers["cache-control"] == "no-store"
    body = res.json()
    assert body["created"] is True and body["linked"] is False
    tokens = body["tokens"]
    claims = jwt.decode(tokens["accessToken"], options={"verify_signature": False})
    assert (
        claims["sub"] == body["userId"]
        and claims["roles"] == ["user"]
        and claims["sid"] == tokens["sessionId"]
    )
    me = browser.get("/api/users/me", headers=bearer(tokens["accessToken"]))
    assert me.status_code == 200, me.text
    user = me.json()["user"]
    assert user["email"] == email and user["emailVerified"] is True and user["displayName"] == "Grace Hopper"
    assert user["linkedProviders"] == ["google"]
    # The refresh token is a real one too.
    refreshed = browser.post("/api/auth/refresh", json={"refreshToken": tokens["refreshToken"]})
    assert refreshed.status_code == 200, refreshed.text


def test_signing_in_again_and_with_another_provider_links_by_verified_email(
    browser: httpx.Client, oidc_provider: OidcProvider
) -> None:
    email, subject = _email(), f"g-{uuid.uuid4().hex}"
    oidc_provider.set_next_user(subject, email, email_verified=True, name="Linus")
    first = sign_in(browser).json()
    oidc_provider.set_next_user(subject, email, email_verified=True, name="Linus")
    again = sign_in(browser).json()
    assert (again["userId"], again["created"], again["linked"]) == (first["userId"], False, False)
    # GitHub vouches for the same address (its /user/emails says verified): same account, linked.
    oidc_provider.set_next_user(str(uuid.uuid4().int % 10**9), email, email_verified=True, name="Linus")
    github = sign_in(browser, "github").json()
    assert (github["userId"], github["created"], github["linked"]) == (first["userId"], False, True)
    me = browser.get("/api/users/me", headers=bearer(github["tokens"]["accessToken"])).json()["user"]
    assert sorted(me["linkedProviders"]) == ["github", "google"]


def test_an_unverified_email_does_not_take_over_a_password_account(
    browser: httpx.Client, oidc_provider: OidcProvider
) -> None:
    email = _email()
    registered = browser.post(
        "/api/auth/register",
        json={"email": email, "password": "plum-Velvet-Harbor-93", "displayName": "Owner"},
    )
    assert registered.status_code == 200, registered.text
    oidc_provider.set_next_user(f"g-{uuid.uuid4().hex}", email, email_verified=False, name="Intruder")
    res = sign_in(browser)
    assert res.status_code == 400, res.text
    assert "tokens" not in res.json() and "verify" in res.json()["message"]


def test_the_browser_leg_redirects_with_tokens_in_the_fragment(
    browser: httpx.Client, oidc_provider: OidcProvider
) -> None:
    email = _email()
    oidc_provider.set_next_user(
        f"fb{uuid.uuid4().int % 10**12}", email, email_verified=True, name="Face User"
    )
    res = browser.get(callback_url(browser, "facebook"), follow_redirects=False)
    assert res.status_code == 302, res.text
    location = urlparse(res.headers["location"])
    # By default, the web app's page that completes the sign-in, served through the edge.
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{EDGE}/oauth/callback"
    assert not location.query
    fragment = {k: v[0] for k, v in parse_qs(location.fragment).items()}
    assert set(fragment) == {"access_token", "token_type", "expires_in", "session_id"}
    me = browser.get("/api/users/me", headers=bearer(fragment["access_token"]))
    assert me.status_code == 200 and me.json()["user"]["email"] == email
    # The refresh token is the httpOnly cookie the web app's Refresh sends (through the edge).
    token = browser.cookies.get("refresh", path="/trading.identity.v1.AuthService/")
    assert token and browser.cookies.get("refresh", path="/api/auth/") == token
    refreshed = browser.post(
        "/api/auth/refresh", json={}, headers={"origin": PAGE_ORIGIN, "x-refresh-cookie": "1"}
    )
    assert refreshed.status_code == 200, refreshed.text
    assert (
        refreshed.json()["tokens"]["refreshToken"] == ""
        and refreshed.json()["tokens"]["sessionId"] == (fragment["session_id"])
    )


def test_a_browser_whose_sign_in_fails_goes_back_to_the_app_with_the_reason(
    browser: httpx.Client, oidc_provider: OidcProvider
) -> None:
    oidc_provider.fail_next_authorization("access_denied", "The user denied the request")
    res = browser.get(callback_url(browser, "github"), follow_redirects=False)
    assert res.status_code == 302
    location = urlparse(res.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{EDGE}/oauth/callback"
    assert parse_qs(location.fragment) == {
        "error": ["access_denied"],
        "error_description": ["github did not sign you in: access_denied (The user denied the request)"],
    }


def _with(url: str, **changes: str) -> str:
    parts = urlparse(url)
    query: dict[str, Any] = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return str(httpx.URL(parts._replace(query="").geturl(), params=query))


def test_a_tampered_state_is_refused_before_the_provider_is_called(
    browser: httpx.Client, oidc_provider: OidcProvider
) -> None:
    url = callback_url(browser, "google")
    state = parse_qs(urlparse(url).query)["state"][0]
    before = oidc_provider.stats()["token"]
    res = browser.get(_with(url, state=state[::-1]), headers=JSON)
    assert res.status_code == 400 and res.json()["error"] == "invalid_argument"
    assert "state" in res.json()["message"]
    assert oidc_provider.stats()["token"] == before


def test_replaying_a_callback_url_is_refused(browser: httpx.Client, oidc_provider: OidcProvider) -> None:
    oidc_provider.set_next_user(f"g-{uuid.uuid4().hex}", _email())
    url = callback_url(browser, "google")
    assert browser.get(url, headers=JSON).status_code == 200
    replay = browser.get(url, headers=JSON)
    assert replay.status_code == 400 and "already used" in replay.json()["message"]
    assert "tokens" not in replay.json()


def test_a_replayed_code_with_a_fresh_state_gets_no_tokens(
    browser: httpx.Client, oidc_provider: OidcProvider
) -> None:
    oidc_provider.set_next_user(f"g-{uuid.uuid4().hex}", _email())
    first = callback_url(browser, "google")
    assert browser.get(first, headers=JSON).status_code == 200
    code = parse_qs(urlparse(first).query)["code"][0]
    fresh = callback_url(browser, "google")  # a valid new state (and cookie), the old code
    res = browser.get(_with(fresh, code=code), headers=JSON)
    assert 400 <= res.status_code < 500, res.text
    assert res.json()["details"][0]["reason"] == "invalid_grant" and "tokens" not in res.json()


def test_a_provider_error_reaches_the_browser_as_a_400(
    browser: httpx.Client, oidc_provider: OidcProvider
) -> None:
    oidc_provider.fail_next_authorization("access_denied", "The user denied the request")
    res = sign_in(browser, "github")
    assert res.status_code == 400
    assert res.json()["message"] == "github did not sign you in: access_denied (The user denied the request)"


def test_an_unknown_provider_is_a_404_from_the_gateway(browser: httpx.Client) -> None:
    res = browser.get("/api/auth/oauth/myspace/start", follow_redirects=False)
    assert res.status_code == 404 and res.json()["error"] == "not_found"


def test_the_web_app_learns_the_enabled_providers_without_a_token(browser: httpx.Client) -> None:
    reply = browser.get("/api/auth/oauth/providers")
    assert reply.status_code == 200, reply.text
    names = [p["name"] for p in reply.json()["providers"]]
    assert "google" in names and names == sorted(set(names), key=["google", "github", "facebook"].index)
    for provider in reply.json()["providers"]:
        assert provider["startPath"] == f"/api/auth/oauth/{provider['name']}/start"


def test_the_only_provider_of_an_account_cannot_be_unlinked(
    browser: httpx.Client, oidc_provider: OidcProvider
) -> None:
    email = _email()
    oidc_provider.set_next_user(f"g-{uuid.uuid4().hex}", email, email_verified=True, name="Ada")
    tokens = sign_in(browser).json()["tokens"]
    auth = bearer(tokens["accessToken"])
    refused = browser.delete("/api/users/me/oauth/google", headers=auth)
    assert refused.status_code == 400 and "only way to sign in" in refused.text, refused.text
    # With a second provider linked (same verified email), the first can go.
    oidc_provider.set_next_user(f"gh-{uuid.uuid4().hex}", email, email_verified=True, name="Ada")
    assert sign_in(browser, "github").status_code == 200
    done = browser.delete("/api/users/me/oauth/google", headers=auth)
    assert done.status_code == 200, done.text
    assert done.json()["user"]["linkedProviders"] == ["github"]
