"""Settings of the gateway (the plain-HTTP side of the edge), read from the environment."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from service_runtime import defaults
from service_runtime.config import CommonSettings, PlanRateLimitSettings

# The gateway's identity in its service tokens (calls to business and to the ML engine).
SERVICE_SUBJECT = "service:gateway"
# The environments where POST /api/auth/dev-token may be turned on: make run's and the tests'.
DEV_TOKEN_ENVIRONMENTS = ("development", "test")


class GatewaySettings(PlanRateLimitSettings, CommonSettings):
    """Environment names are the upper-case field names (GATEWAY_PORT, DEV_TOKENS_ENABLED, ...)."""

    gateway_host: str = Field(
        default=defaults.LOOPBACK, description="interface the gateway's HTTP server binds"
    )
    gateway_port: int = Field(
        default=defaults.GATEWAY_PORT, gt=0, lt=65536, description="port of the gateway's HTTP server"
    )
    dev_tokens_enabled: bool = Field(
        default=False,
        description="serve POST /api/auth/dev-token, which mints a short-lived token for local "
        "demos without a login; allowed only when APP_ENV is development or test",
    )
    public_api_url: str = Field(
        default="",
        description="Envoy URL the web app calls; empty: the page's own host on port 8080",
    )
    web_dist_dir: str = Field(
        default="web/dist", description="folder of the built web app (`make web`) served at /"
    )
    descriptor_set: str = Field(
        default="gen/descriptor/trading.binpb",
        description="FileDescriptorSet the API docs are generated from (make gen writes it)",
    )
    jwks_max_age_s: int = Field(
        default=300, ge=0, description="Cache-Control max-age of /.well-known/jwks.json (s)"
    )
    # Same names as Envoy's settings: the gateway calls business (CompleteOAuthLogin) where Envoy does.
    business_host: str = Field(
        default=defaults.LOOPBACK, description="host of the business service, as Envoy and the gateway see it"
    )
    business_grpc_port: int = Field(
        default=defaults.BUSINESS_GRPC_PORT, gt=0, lt=65536, description="business service gRPC port"
    )
    # Same name as business's setting: the gateway calls the ML engine for WS /ws/{symbol}.
    ml_service_url: str = Field(default=defaults.ML_GRPC_TARGET, description="gRPC target of the ML engine")

    # OAuth 2.0 / OpenID Connect sign-in (gateway/oauth). A provider without a client id is off.
    google_client_id: str = Field(default="", description="Google OAuth client id; empty: Google sign-in off")
    google_client_secret: str = Field(default="", description="Google OAuth client secret (secret)")
    facebook_app_id: str = Field(default="", description="Facebook app id; empty: Facebook sign-in off")
    facebook_app_secret: str = Field(default="", description="Facebook app secret (secret)")
    github_client_id: str = Field(
        default="", description="GitHub OAuth app client id; empty: GitHub sign-in off"
    )
    github_client_secret: str = Field(default="", description="GitHub OAuth app client secret (secret)")
    oauth_google_metadata_url: str = Field(
        default="https://accounts.google.com/.well-known/openid-configuration",
        description="OpenID Connect discovery document of the Google sign-in (tests: a local provider)",
    )
    oauth_github_authorize_url: str = Field(
        default="https://github.com/login/oauth/authorize", description="GitHub authorization endpoint"
    )
    oauth_github_token_url: str = Field(
        default="https://github.com/login/oauth/access_token", description="GitHub token endpoint"
    )
    oauth_github_api_url: str = Field(
        default="https://api.github.com", description="GitHub REST API base (/user, /user/emails)"
    )
    oauth_facebook_authorize_url: str = Field(
        default="https://www.facebook.com/v19.0/dialog/oauth", description="Facebook authorization endpoint"
    )
    oauth_facebook_token_url: str = Field(
        default="https://graph.facebook.com/v19.0/oauth/access_token", description="Facebook token endpoint"
    )
    oauth_facebook_api_url: str = Field(
        default="https://graph.facebook.com/v19.0", description="Facebook Graph API base (/me)"
    )
    oauth_redirect_base_url: str = Field(
        default="",
        description="public base URL of the OAuth callbacks (redirect_uri); empty: PUBLIC_API_URL, "
        "or the request's own host when that is empty too",
    )
    oauth_success_redirect: str = Field(
        default="",
        description="where the browser goes after an OAuth sign-in (the access token or the error "
        "in the URL fragment, the refresh token in the httpOnly cookie); empty: the web app's "
        "PUBLIC_API_URL + /oauth/callback",
    )
    oauth_state_ttl_s: int = Field(
        default=600, gt=0, le=3600, description="seconds an OAuth sign-in may take (state lifetime)"
    )
    oauth_http_timeout_s: float = Field(
        default=5.0, gt=0, le=30, description="timeout of each call to an OAuth provider (s)"
    )
    oauth_business_timeout_s: float = Field(
        default=5.0, gt=0, le=30, description="deadline of the CompleteOAuthLogin call to business (s)"
    )
    stripe_webhook_secret: str = Field(
        "",
        description="signing secret of the Stripe webhook endpoint (whsec_...); empty: "
        "POST /api/billing/webhooks/stripe answers 503 (billing not configured)",
    )
    stripe_webhook_tolerance_s: int = Field(
        300, ge=1, le=3600, description="how old a webhook's signed timestamp may be (s); older: replay, 400"
    )

    @property
    def business_grpc_target(self) -> str:
        return f"{self.business_host}:{self.business_grpc_port}"

    @property
    def ml_grpc_target(self) -> str:
        return self.ml_service_url.split("://", 1)[-1].rstrip("/")

    @model_validator(mode="after")
    def _dev_tokens_only_in_development(self) -> Self:
        # Anyone reaching the endpoint could mint a valid token: only where that is meant (make run,
        # the tests), never in an environment merely spelt other than "production" (prod, staging).
        if self.dev_tokens_enabled and self.app_env not in DEV_TOKEN_ENVIRONMENTS:
            raise ValueError(
                f"DEV_TOKENS_ENABLED must be false when APP_ENV={self.app_env!r}: dev tokens are "
                f"allowed only when APP_ENV is {' or '.join(DEV_TOKEN_ENVIRONMENTS)}"
            )
        return self
