"""Settings of the gateway (the plain-HTTP side of the edge), read from the environment."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from service_runtime.config import CommonSettings


class GatewaySettings(CommonSettings):
    """Environment names are the upper-case field names (GATEWAY_PORT, DEV_TOKENS_ENABLED, ...)."""

    gateway_host: str = Field(
        default="127.0.0.1", description="interface the gateway's HTTP server binds"
    )
    gateway_port: int = Field(
        default=8000, gt=0, lt=65536, description="port of the gateway's HTTP server"
    )
    dev_tokens_enabled: bool = Field(
        default=False,
        description="serve POST /api/auth/dev-token, which mints a short-lived token for local "
        "demos without a login; refused when APP_ENV=production",
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
        description="FileDescriptorSet the API docs are generated from (tools/gen.py writes it)",
    )
    jwks_max_age_s: int = Field(
        default=300, ge=0, description="Cache-Control max-age of /.well-known/jwks.json (s)"
    )

    @model_validator(mode="after")
    def _no_dev_tokens_in_production(self) -> Self:
        # Anyone reaching the endpoint could mint a valid token: never in production.
        if self.dev_tokens_enabled and self.app_env.strip().lower() == "production":
            raise ValueError("DEV_TOKENS_ENABLED must be false when APP_ENV=production")
        return self
