"""Settings common to every service, read from the environment (and a `.env` file if present)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service_runtime import defaults
from service_runtime.access import (
    AccessInterceptor,
    RevocationCheck,
    TokenVerifier,
    access_rules,
    keys_from_folder,
    keys_from_jwks_url,
)
from service_runtime.rate_limits import PlanRateLimits
from service_runtime.request_meta import DEFAULT_TRUSTED_PROXY_CIDRS, parse_cidrs
from service_runtime.revocations import Revocations, make_revocations
from service_runtime.signing_keys import SigningKeyStore


class CommonSettings(BaseSettings):
    """Variables every service reads. Each service subclasses this with its own fields."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    app_env: str = Field("development", description="development | test | production")
    log_level: str = Field("INFO", description="Python log level of the JSON logs")
    grpc_host: str = Field(defaults.LOOPBACK, description="interface the gRPC server binds")
    shutdown_grace_s: float = Field(
        10.0, gt=0, description="seconds in-flight calls get to finish after SIGTERM"
    )
    # The seed caps calls to the ML engine at 30 s; no outgoing call may wait longer.
    outgoing_timeout_ms: int = Field(
        30_000, gt=0, le=30_000, description="default deadline of outgoing gRPC calls (ms)"
    )

    redis_url: str = Field(
        "",
        description="Redis URL (rate limits, revoked tokens, OAuth state), required in production; "
        "empty: in-process state and the local REVOCATIONS_FILE",
    )
    revocations_file: str = Field(
        ".data/revocations.db",
        description="without Redis: the SQLite file through which every local process shares the list "
        "of revoked access tokens (logout, suspension)",
    )
    migrate_on_start: bool = Field(True, description="apply the service's Alembic migrations when it starts")
    trusted_proxy_cidrs: str = Field(
        DEFAULT_TRUSTED_PROXY_CIDRS,
        description="comma-separated address ranges of the proxies (Envoy, the gateway) whose "
        "X-Forwarded-For a service believes for the client address (per-address limits, audit "
        "log); any other caller is known by its own address; empty: trust none",
    )

    # Access tokens (signed by the platform, verified by Envoy and by the services).
    jwt_issuer: str = Field("trading-platform", description="`iss` of access tokens")
    jwt_audience: str = Field("trading-api", description="`aud` of access tokens")
    jwt_keys_dir: str = Field(".data/keys", description="folder of Ed25519 signing keys (PEM)")
    jwks_url: str = Field(
        "",
        description="JWKS services verify tokens with (e.g. http://gateway:8000/.well-known/jwks.json); "
        "empty: the public halves of the keys in JWT_KEYS_DIR",
    )
    jwt_key_activation_delay_s: float = Field(
        300.0,
        ge=0,
        description="a rotated signing key signs only after it has been published this long "
        "(at least the JWKS cache time of Envoy and the services)",
    )
    jwt_access_ttl_s: int = Field(900, gt=0, le=3600, description="access token lifetime (s)")
    access_stream_recheck_s: float = Field(
        2.0,
        gt=0,
        le=60,
        description="how often an open stream's token is checked again; an expired or revoked one "
        "ends the stream with UNAUTHENTICATED",
    )

    @field_validator("trusted_proxy_cidrs")
    @classmethod
    def _trusted_proxy_cidrs_parse(cls, value: str) -> str:
        parse_cidrs(value)  # a typo stops the start, naming the entry, rather than trusting nobody
        return value

    def signing_keys(self) -> SigningKeyStore:
        """The private signing keys (business signs access tokens, the gateway service tokens)."""
        return SigningKeyStore(Path(self.jwt_keys_dir), self.jwt_key_activation_delay_s)

    @model_validator(mode="after")
    def _production_shares_state_through_redis(self) -> CommonSettings:
        # Revocations, attempt limits and OAuth states must be one list for every replica; the
        # local SQLite file and in-process state hold only on one machine.
        if self.app_env == "production" and not self.redis_url:
            raise ValueError(
                "REDIS_URL is required when APP_ENV=production: revoked tokens, attempt limits and "
                "OAuth states must be shared by every replica"
            )
        return self

    def revocations(self) -> Revocations:
        """The list of revoked access tokens, shared by every service (Redis, else the local file)."""
        return make_revocations(self.redis_url, self.jwt_access_ttl_s, self.revocations_file)

    def token_verifier(self) -> TokenVerifier:
        """The verifier of access tokens for this service's own checks (zero trust)."""
        keys = (
            keys_from_jwks_url(self.jwks_url) if self.jwks_url else keys_from_folder(Path(self.jwt_keys_dir))
        )
        return TokenVerifier(keys, self.jwt_issuer, self.jwt_audience)

    def access_interceptor(self, service_names: list[str], revocations: RevocationCheck) -> AccessInterceptor:
        """The per-RPC authorization of this service's contracts (refuses to build when an RPC
        declares no rule)."""
        return AccessInterceptor(
            self.token_verifier(), access_rules(service_names), revocations, self.access_stream_recheck_s
        )


class PlanRateLimitSettings(BaseSettings):
    """Per-plan ML rate limits: the ML engine enforces them, business shows them on the pricing page;
    both read the same variables."""

    ml_rate_limit_free: int = Field(
        30,
        ge=1,
        description="ML requests (predictions, signals, stream opens, backtests) a free user may make per "
        "window; over it: 429 / RESOURCE_EXHAUSTED with RetryInfo",
    )
    ml_rate_limit_pro: int = Field(600, ge=1, description="the same for a pro user (admins get it too)")
    ml_rate_limit_window_s: int = Field(
        60,
        ge=1,
        le=86400,
        description="the rate limit's fixed window (s); counted in Redis when REDIS_URL is set (shared by "
        "every replica), in process memory otherwise",
    )

    def rate_limits(self) -> PlanRateLimits:
        return PlanRateLimits(
            {"free": self.ml_rate_limit_free, "pro": self.ml_rate_limit_pro},
            default_plan="free",
            window_s=self.ml_rate_limit_window_s,
        )
