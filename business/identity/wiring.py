"""Builds the identity use cases' dependencies from the business settings: the domain's ports
bound to the business store, the mail and SMS adapters, the signing keys and the revocations."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from business.config import BusinessSettings
from business.identity.adapters.attempt_counters import make_attempt_counters
from business.identity.adapters.sms import ConsoleSmsSender, TwilioSmsSender
from business.identity.data.repositories import SqlIdentityUnitOfWork
from business.identity.domain.access_tokens import AccessTokenIssuer
from business.identity.domain.context import Identity, IdentityPolicy
from business.identity.domain.passwords import PasswordHasher
from business.identity.domain.ports import AttemptCounters, Revocations, SmsSender
from business.identity.domain.secret_box import SecretBox
from business.identity.domain.throttle import AttemptLimiter
from business.shared.database import BusinessStore
from business.shared.mail import mailer

log = logging.getLogger("business.identity")


def totp_key(settings: BusinessSettings) -> str:
    """TOTP_ENCRYPTION_KEY, or (outside production) a key generated once into a private file,
    like the development signing keys, so local runs keep working across restarts."""
    if settings.totp_encryption_key:
        return settings.totp_encryption_key
    if settings.app_env == "production":
        raise RuntimeError("TOTP_ENCRYPTION_KEY is required when APP_ENV=production")
    path = Path(settings.totp_key_file)
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = SecretBox.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    log.warning(
        "generated a development TOTP encryption key in %s; set TOTP_ENCRYPTION_KEY in production", path
    )
    return key


def sms_sender(settings: BusinessSettings) -> SmsSender:
    if settings.sms_backend == "twilio":
        return TwilioSmsSender(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            settings.twilio_phone_number,
            settings.twilio_api_base_url,
        )
    return ConsoleSmsSender()


def policy(settings: BusinessSettings) -> IdentityPolicy:
    return IdentityPolicy(
        public_web_url=settings.public_web_url,
        totp_issuer=settings.totp_issuer,
        refresh_ttl_s=settings.jwt_refresh_ttl_s,
        refresh_grace_s=settings.refresh_reuse_grace_s,
        challenge_ttl_s=settings.login_challenge_ttl_s,
        sms_code_ttl_s=settings.sms_code_ttl_s,
        sms_code_max_attempts=settings.sms_code_max_attempts,
        verify_link_ttl_s=settings.email_verify_ttl_s,
        reset_link_ttl_s=settings.password_reset_ttl_s,
    )


def password_hasher(settings: BusinessSettings) -> PasswordHasher:
    return PasswordHasher(
        settings.argon2_time_cost,
        settings.argon2_memory_kib,
        settings.argon2_parallelism,
        workers=settings.argon2_workers,
    )


def send_limiter(settings: BusinessSettings, counters: AttemptCounters) -> AttemptLimiter:
    """Mails and texts: per recipient and per client, per hour; past the limit a lock of a
    minute that doubles with each further request, up to the hour."""
    return AttemptLimiter(
        counters,
        account_limit=settings.send_limit_per_recipient,
        ip_limit=settings.send_limit_per_client,
        window_s=3600,
        base_lock_s=60,
        max_lock_s=3600,
    )


def build_identity(settings: BusinessSettings, store: BusinessStore, revocations: Revocations) -> Identity:
    keys = settings.signing_keys()
    # Business signs access tokens; a fresh clone has no key until someone makes one.
    keys.ensure()
    counters = make_attempt_counters(settings.redis_url)
    return Identity(
        transactions=store.units_of_work(SqlIdentityUnitOfWork),
        hasher=password_hasher(settings),
        limiter=AttemptLimiter(
            counters,
            account_limit=settings.attempt_limit_per_account,
            ip_limit=settings.attempt_limit_per_ip,
        ),
        sends=send_limiter(settings, counters),
        mailer=mailer(settings),
        sms=sms_sender(settings),
        revocations=revocations,
        tokens=AccessTokenIssuer(
            keys.sign, settings.jwt_issuer, settings.jwt_audience, settings.jwt_access_ttl_s
        ),
        secrets=SecretBox(totp_key(settings)),
        policy=policy(settings),
    )
