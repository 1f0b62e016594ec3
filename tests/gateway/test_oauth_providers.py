"""Each provider's identity, read through the real authorization-code flow with PKCE against a
local provider process: what is verified, what is not, and what a bad id_token gets."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from gateway.config import GatewaySettings
from gateway.oauth.errors import OAuthFlowError
from gateway.oauth.provider_client import ProviderClient
from gateway.oauth.providers import provider_configs
from gateway.oauth.state_store import PendingLogin
from gateway.oauth.userinfo import ProviderIdentity
from tests.support.oidc_provider import OidcProvider

REDIRECT_URI = "http://gateway.test/api/auth/oauth/{}/callback"


@pytest.fixture(scope="module")
def oidc() -> Iterator[OidcProvider]:
    with OidcProvider() as provider:
        yield provider


def _settings_values(oidc: OidcProvider) -> dict[str, Any]:
    return {k.lower(): v for k, v in oidc.env().items()}


def _client(oidc: OidcProvider, name: str) -> ProviderClient:
    settings = GatewaySettings(_env_file=None, **_settings_values(oidc))
    return ProviderClient(provider_configs(settings)[name], timeout_s=5)


async def _sign_in(oidc: OidcProvider, name: str) -> tuple[ProviderClient, str, PendingLogin]:
    """Runs /authorize as a browser would; returns the code the provider sent back."""
    client = _client(oidc, name)
    pending = PendingLogin(
        provider=name,
        code_verifier=secrets.token_urlsafe(48),
        nonce=secrets.token_urlsafe(32),
        redirect_uri=REDIRECT_URI.format(name),
        created_at=time.time(),
    )
    state = secrets.token_urlsafe(32)
    url = await client.authorization_url(
        redirect_uri=pending.redirect_uri,
        state=state,
        nonce=pending.nonce,
        code_verifier=pending.code_verifier,
    )
    query = parse_qs(urlparse(url).query)
    assert query["code_challenge_method"] == ["S256"] and query["state"] == [state]
    assert "code_verifier" not in query  # only its hash travels through the browser
    back = httpx.get(url, follow_redirects=False)
    assert back.status_code == 302, back.text
    answer = parse_qs(urlparse(back.headers["location"]).query)
    assert answer["state"] == [state]
    return client, answer["code"][0], pending


async def test_google_identity_comes_from_a_validated_id_token(oidc: OidcProvider) -> None:
    oidc.set_next_user("g-123", "Ana@Example.com", email_verified=True, name="Ana")
    client, code, pending = await _sign_in(oidc, "google")
    assert await client.identity(code, pending) == ProviderIdentity(
        provider="google", subject="g-123", email="Ana@Example.com", email_verified=True, display_name="Ana"
    )


async def test_google_unverified_email_stays_unverified(oidc: OidcProvider) -> None:
    oidc.set_next_user("g-124", "bob@example.com", email_verified=False, name="Bob")
    client, code, pending = await _sign_in(oidc, "google")
    identity = await client.identity(code, pending)
    assert identity.email == "bob@example.com" and identity.email_verified is False


async def test_github_identity_uses_the_verified_primary_email(oidc: OidcProvider) -> None:
    oidc.set_next_user("4242", "octo@example.com", email_verified=True, name="Octo Cat")
    client, code, pending = await _sign_in(oidc, "github")
    assert await client.identity(code, pending) == ProviderIdentity(
        provider="github",
        subject="4242",
        email="octo@example.com",
        email_verified=True,
        display_name="Octo Cat",
    )


async def test_github_unverified_email_is_not_verified(oidc: OidcProvider) -> None:
    oidc.set_next_user("4243", "unverified@example.com", email_verified=False, name="Octo")
    client, code, pending = await _sign_in(oidc, "github")
    identity = await client.identity(code, pending)
    assert identity.email == "unverified@example.com" and identity.email_verified is False


async def test_facebook_identity_checks_appsecret_proof(oidc: OidcProvider) -> None:
    oidc.set_next_user("fb-77", "fb@example.com", email_verified=True, name="Face Book")
    client, code, pending = await _sign_in(oidc, "facebook")
    assert await client.identity(code, pending) == ProviderIdentity(
        provider="facebook",
        subject="fb-77",
        email="fb@example.com",
        email_verified=True,
        display_name="Face Book",
    )


@pytest.mark.parametrize(
    ("tamper", "why"),
    [
        ({"nonce": "not-the-nonce-we-sent"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"aud": "someone-else"}, "aud"),
        ({"iss": "https://evil.example"}, "iss"),
        ({"exp": 1_000_000_000, "iat": 999_999_000}, "expired"),
        ({"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"}, "at_hash"),
        ({"forge_signature": True}, "bad_signature"),
    ],
    ids=["wrong-nonce", "no-nonce", "wrong-aud", "wrong-iss", "expired", "wrong-at_hash", "forged"],
)
async def test_a_bad_id_token_is_refused(oidc: OidcProvider, tamper: dict[str, object], why: str) -> None:
    oidc.set_next_user("g-200", "victim@example.com")
    forge = bool(tamper.pop("forge_signature", False))
    oidc.tamper_next_id_token(forge_signature=forge, **tamper)
    client, code, pending = await _sign_in(oidc, "google")
    with pytest.raises(OAuthFlowError) as raised:
        await client.identity(code, pending)
    assert raised.value.status == 502 and "id_token is not valid" in raised.value.message
    assert why in raised.value.message  # refused for the reason under test


async def test_a_replayed_code_gets_invalid_grant(oidc: OidcProvider) -> None:
    client, code, pending = await _sign_in(oidc, "google")
    await client.identity(code, pending)
    with pytest.raises(OAuthFlowError) as raised:
        await client.identity(code, pending)
    assert raised.value.status == 400 and raised.value.provider_error == "invalid_grant"


async def test_a_wrong_code_verifier_gets_invalid_grant(oidc: OidcProvider) -> None:
    client, code, pending = await _sign_in(oidc, "github")
    wrong = PendingLogin(**{**pending.__dict__, "code_verifier": secrets.token_urlsafe(48)})
    with pytest.raises(OAuthFlowError) as raised:
        await client.identity(code, wrong)
    assert raised.value.status == 400 and "PKCE" in raised.value.message


async def test_a_wrong_client_secret_is_a_bad_gateway(oidc: OidcProvider) -> None:
    settings = GatewaySettings(_env_file=None, **{**_settings_values(oidc), "google_client_secret": "wrong"})
    _, code, pending = await _sign_in(oidc, "google")
    misconfigured = ProviderClient(provider_configs(settings)["google"], timeout_s=5)
    with pytest.raises(OAuthFlowError) as raised:
        await misconfigured.identity(code, pending)
    assert raised.value.status == 502 and raised.value.provider_error == "invalid_client"


async def test_an_unreachable_provider_is_a_clean_503() -> None:
    settings = GatewaySettings(
        _env_file=None,
        google_client_id="x",
        oauth_google_metadata_url="http://127.0.0.1:1/.well-known/openid-configuration",
    )
    client = ProviderClient(provider_configs(settings)["google"], timeout_s=2)
    with pytest.raises(OAuthFlowError) as raised:
        await client.authorization_url(
            redirect_uri="http://x/cb", state="s", nonce="n", code_verifier="v" * 43
        )
    assert raised.value.status == 503 and "google" in raised.value.message
