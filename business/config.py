"""Business service settings. Names follow the seed's Express .env table where they apply."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from service_runtime import defaults
from service_runtime.config import CommonSettings, PlanRateLimitSettings

SERVICE_VERSION = "0.1.0"


class BusinessSettings(PlanRateLimitSettings, CommonSettings):
    business_grpc_port: int = Field(defaults.BUSINESS_GRPC_PORT, description="business service gRPC port")
    business_metrics_port: int = Field(
        defaults.BUSINESS_METRICS_PORT, description="business Prometheus /metrics port (0: off)"
    )
    database_url: str = Field(
        "sqlite:///.data/business.db",
        description="business store; postgresql://user:pass@host:5432/db in production",
    )
    ml_service_url: str = Field(defaults.ML_GRPC_TARGET, description="gRPC target of the ML engine")
    # The seed's ML_SERVICE_TIMEOUT, in ms; capped at 30 s like every outgoing call.
    ml_service_timeout: int = Field(
        30_000,
        gt=0,
        le=30_000,
        description="deadline of calls to the ML engine (ms); also Envoy's route timeout of ML calls "
        "(504 / DEADLINE_EXCEEDED past it)",
    )
    health_probe_timeout_ms: int = Field(
        2000, gt=0, le=30_000, description="deadline of each health probe (ms)"
    )

    # --- identity: outgoing mail and SMS ------------------------------------------------------
    mail_backend: Literal["console", "smtp"] = Field(
        "console", description="console: emails are logged (local runs); smtp: sent through SMTP_HOST"
    )
    smtp_host: str = Field("localhost", description="SMTP server (MAIL_BACKEND=smtp)")
    smtp_port: int = Field(587, gt=0, lt=65536, description="SMTP port")
    smtp_from: str = Field("Trading Platform <no-reply@localhost>", description="From: of outgoing emails")
    smtp_username: str = Field("", description="SMTP login; empty: no AUTH")
    smtp_password: str = Field("", description="SMTP password")
    smtp_starttls: bool = Field(False, description="upgrade the SMTP connection with STARTTLS")
    sms_backend: Literal["console", "twilio"] = Field(
        "console", description="console: texts are logged (local runs); twilio: sent with the Twilio API"
    )
    twilio_account_sid: str = Field("", description="Twilio account SID (SMS_BACKEND=twilio)")
    twilio_auth_token: str = Field("", description="Twilio auth token")
    twilio_phone_number: str = Field("", description="Twilio sender number, E.164")
    twilio_api_base_url: str = Field("", description="replaces https://api.twilio.com (tests only)")
    public_web_url: str = Field(
        defaults.EDGE_URL, description="base URL of the links in emails (verify-email, reset-password)"
    )

    # --- identity: second factor, passwords, token and code lifetimes -------------------------
    totp_issuer: str = Field("Trading Platform", description="issuer shown by authenticator apps")
    totp_encryption_key: str = Field(
        "",
        description="Fernet key(s), comma-separated, first encrypts: TOTP secrets at rest. Required in "
        "production; empty elsewhere: a key file is generated under .data/",
    )
    totp_key_file: str = Field(
        ".data/totp.key", description="where the generated development TOTP key is kept"
    )
    argon2_time_cost: int = Field(
        2, ge=1, le=20, description="argon2id iterations (see docs for the benchmark)"
    )
    argon2_memory_kib: int = Field(19456, ge=8192, le=1048576, description="argon2id memory per hash (KiB)")
    argon2_parallelism: int = Field(1, ge=1, le=16, description="argon2id lanes")
    argon2_workers: int = Field(
        0, ge=0, le=64, description="password hashes running at once (threads); 0: one per CPU core"
    )
    attempt_limit_per_account: int = Field(
        5,
        ge=1,
        le=100_000,
        description="failed credential checks per account (15 min) before lock-outs start",
    )
    attempt_limit_per_ip: int = Field(
        20,
        ge=1,
        le=100_000,
        description="failed credential checks per client address (15 min) before lock-outs start",
    )
    send_limit_per_recipient: int = Field(
        5,
        ge=1,
        le=100_000,
        description="mails to one address (registration, verification, password reset) or texts to one "
        "number per hour before 429",
    )
    send_limit_per_client: int = Field(
        20,
        ge=1,
        le=100_000,
        description="mail- or SMS-sending requests per client address per hour before 429",
    )
    jwt_refresh_ttl_s: int = Field(7 * 24 * 3600, gt=0, description="refresh token (session) lifetime (s)")
    refresh_reuse_grace_s: int = Field(
        10,
        ge=0,
        le=60,
        description="seconds in which a just-rotated refresh token yields the same new token (two tabs "
        "refreshing at once) instead of counting as reuse; 0 turns the grace off",
    )
    login_challenge_ttl_s: int = Field(300, gt=0, le=3600, description="2FA challenge lifetime (s)")
    sms_code_ttl_s: int = Field(300, gt=0, le=3600, description="lifetime of a texted sign-in code (s)")
    sms_code_max_attempts: int = Field(5, ge=1, le=20, description="wrong answers a texted code survives")
    email_verify_ttl_s: int = Field(24 * 3600, gt=0, description="lifetime of an email-verification link (s)")
    password_reset_ttl_s: int = Field(
        30 * 60, gt=0, le=24 * 3600, description="lifetime of a password-reset link (s)"
    )

    # --- billing: plans and Stripe (docs/plans.md, docs/billing.md) ----------------------------
    stripe_secret_key: str = Field(
        "", description="Stripe secret key (sk_...); empty: billing is not configured, admins set plans"
    )
    stripe_price_pro_monthly: str = Field(
        "", description="Stripe price id of pro, billed monthly (price_...)"
    )
    stripe_price_pro_yearly: str = Field("", description="Stripe price id of pro, billed yearly (price_...)")
    pro_monthly_amount_minor: int = Field(
        1900, ge=0, description="pro's monthly price shown on the pricing page, in minor units (cents)"
    )
    pro_yearly_amount_minor: int = Field(
        19000, ge=0, description="pro's yearly price shown on the pricing page, in minor units (cents)"
    )
    billing_currency: str = Field(
        "usd", pattern=r"^[a-z]{3}$", description="ISO 4217 currency of the prices, lower case"
    )
    stripe_api_base_url: str = Field("", description="replaces https://api.stripe.com (tests only)")
    paper_commission: float = Field(
        0.0,
        ge=0,
        lt=0.1,
        description="paper trading commission, a fraction of traded value (the backtester's)",
    )
    paper_slippage: float = Field(
        0.0,
        ge=0,
        lt=0.1,
        description="paper trading slippage on entries, a fraction of price (the backtester's)",
    )
    paper_symbols: str = Field(
        "EURUSD:0.00001,GOOG:0.01,BTCUSD:0.01",
        description="instruments paper trading knows before their first bar: SYMBOL:TICK[:LOT],...",
    )
    paper_feed_enabled: bool = Field(True, description="fill paper orders on the ML engine's bar stream")
    paper_feed_timeframe: str = Field(
        "", description="timeframe of the bar stream paper trading fills on (empty: each symbol's stored one)"
    )

    # --- alerts (docs/alerts.md) --------------------------------------------------------------
    alert_feeds_refresh_s: float = Field(
        5.0,
        gt=0,
        le=300,
        description="how often business reads which symbols' prediction streams alert rules watch (s); "
        "a new or deleted rule is picked up at once anyway",
    )

    # --- billing (docs/billing.md) ------------------------------------------------------------
    billing_past_due_grace_s: float = Field(
        3 * 86400,
        ge=0,
        description="seconds a past_due subscription keeps pro after its payment failed; then free at once",
    )
    billing_sweep_interval_s: float = Field(
        60,
        ge=0,
        description="seconds between billing sweeps (grace periods over, failed webhook events retried); "
        "0 turns the sweep off",
    )
    billing_event_retry_base_s: float = Field(
        30,
        gt=0,
        description="first retry of a failed webhook event after this many seconds, doubling each time",
    )
    billing_event_max_attempts: int = Field(
        10, ge=1, le=50, description="automatic attempts at a webhook event before only an admin retries it"
    )

    @model_validator(mode="after")
    def _production_needs_real_secrets(self) -> BusinessSettings:
        if self.app_env == "production" and not self.totp_encryption_key:
            raise ValueError("TOTP_ENCRYPTION_KEY is required when APP_ENV=production")
        if self.sms_backend == "twilio" and not (
            self.twilio_account_sid and self.twilio_auth_token and self.twilio_phone_number
        ):
            raise ValueError(
                "SMS_BACKEND=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_PHONE_NUMBER"
            )
        return self

    @property
    def ml_target(self) -> str:
        """Accept the seed's URL form (http://host:port) as well as a bare gRPC target."""
        return self.ml_service_url.split("://", 1)[-1].rstrip("/")
