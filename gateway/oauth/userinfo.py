"""Who signed in, as each provider tells it, reduced to the same `ProviderIdentity`.

Only what the provider vouches for counts as verified: Google's `email_verified` claim,
GitHub's `verified` flag per address (from /user/emails), and Facebook's `email`, which the
Graph API returns only for an address its owner has confirmed. business links accounts by
verified email only, so a wrong "verified" here would be an account takeover.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import httpx

from gateway.oauth.errors import OAuthFlowError
from gateway.oauth.provider_http import bad_answer, get_json


@dataclass(frozen=True)
class ProviderIdentity:
    provider: str
    subject: str
    email: str
    email_verified: bool
    display_name: str


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _flag(value: object) -> bool:
    # Some providers (older Google tokens) send booleans as strings.
    return value is True or (isinstance(value, str) and value.lower() == "true")


def oidc_identity(provider: str, claims: dict[str, Any]) -> ProviderIdentity:
    subject = _text(claims.get("sub"))
    if not subject:
        raise bad_answer(provider, "the id_token has no subject")
    return ProviderIdentity(
        provider=provider,
        subject=subject,
        email=_text(claims.get("email")),
        email_verified=_flag(claims.get("email_verified")),
        display_name=_text(claims.get("name")),
    )


def _github_email(emails: object, fallback: str) -> tuple[str, bool]:
    """The primary verified address; else any verified one; else the profile's, unverified."""
    rows = [row for row in emails if isinstance(row, dict)] if isinstance(emails, list) else []
    for wanted in (lambda r: r.get("primary") and r.get("verified"), lambda r: r.get("verified")):
        for row in rows:
            if wanted(row) and _text(row.get("email")):
                return _text(row.get("email")), True
    return fallback, False


async def github_identity(client: httpx.AsyncClient, api_url: str, access_token: str) -> ProviderIdentity:
    headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/vnd.github+json"}
    user = await get_json(client, "github", f"{api_url}/user", what="the user API", headers=headers)
    if not isinstance(user, dict) or user.get("id") in (None, ""):
        raise bad_answer("github", "the user API returned no user id")
    try:
        emails: object = await get_json(
            client, "github", f"{api_url}/user/emails", what="the emails API", headers=headers
        )
    except OAuthFlowError as exc:
        if exc.status != 502:  # unreachable: the sign-in cannot go on
            raise
        emails = []  # the user:email scope was not granted: nothing is verified
    email, verified = _github_email(emails, _text(user.get("email")))
    return ProviderIdentity(
        provider="github",
        subject=str(user["id"]),
        email=email,
        email_verified=verified,
        display_name=_text(user.get("name")) or _text(user.get("login")),
    )


async def facebook_identity(
    client: httpx.AsyncClient, api_url: str, access_token: str, app_secret: str
) -> ProviderIdentity:
    # appsecret_proof ties the call to our app: a leaked user token alone cannot make it.
    proof = hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()
    me = await get_json(
        client,
        "facebook",
        f"{api_url}/me",
        what="the Graph API",
        headers={"Authorization": f"Bearer {access_token}"},
        params={"fields": "id,name,email", "appsecret_proof": proof},
    )
    if not isinstance(me, dict) or not _text(me.get("id")):
        raise bad_answer("facebook", "the Graph API returned no user id")
    email = _text(me.get("email"))
    return ProviderIdentity(
        provider="facebook",
        subject=_text(me["id"]),
        email=email,
        email_verified=bool(email),
        display_name=_text(me.get("name")),
    )
