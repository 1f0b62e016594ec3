"""Which sign-in providers exist and how to reach them, from the gateway settings.

Google speaks OpenID Connect (endpoints from its discovery document, identity from the signed
id_token); GitHub and Facebook speak plain OAuth 2.0 (fixed endpoints, identity from their
APIs). Every URL is a setting so the tests can point them at a local provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from gateway.config import GatewaySettings


class Kind(Enum):
    OIDC = "oidc"
    GITHUB = "github"
    FACEBOOK = "facebook"


@dataclass(frozen=True)
class ProviderConfig:
    name: str
    kind: Kind
    client_id: str
    client_secret: str
    scope: str
    # OIDC: the discovery document; the endpoints below are read from it.
    metadata_url: str = ""
    authorize_url: str = ""
    token_url: str = ""
    # Base of the provider's user API (GitHub /user, Facebook /me).
    api_url: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.client_id)


def provider_configs(settings: GatewaySettings) -> dict[str, ProviderConfig]:
    """Every known provider, enabled or not (a disabled one answers 404 by name)."""
    return {
        "google": ProviderConfig(
            name="google",
            kind=Kind.OIDC,
            client_id=settings.google_client_id,
            client_secret=settings.google_client_secret,
            scope="openid email profile",
            metadata_url=settings.oauth_google_metadata_url,
        ),
        "github": ProviderConfig(
            name="github",
            kind=Kind.GITHUB,
            client_id=settings.github_client_id,
            client_secret=settings.github_client_secret,
            scope="read:user user:email",
            authorize_url=settings.oauth_github_authorize_url,
            token_url=settings.oauth_github_token_url,
            api_url=settings.oauth_github_api_url.rstrip("/"),
        ),
        "facebook": ProviderConfig(
            name="facebook",
            kind=Kind.FACEBOOK,
            client_id=settings.facebook_app_id,
            client_secret=settings.facebook_app_secret,
            scope="email public_profile",
            authorize_url=settings.oauth_facebook_authorize_url,
            token_url=settings.oauth_facebook_token_url,
            api_url=settings.oauth_facebook_api_url.rstrip("/"),
        ),
    }
