"""Sign-in completed by an OAuth / OpenID Connect provider (the gateway did the redirects)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from business.identity.data import repositories as repo
from business.identity.data.tables import OAuthIdentity, User
from business.identity.domain import audit
from business.identity.domain.accounts import complete_sign_in
from business.identity.domain.context import Client, Identity
from business.identity.domain.sessions import SignInResult
from business.identity.domain.validation import (
    MAX_DISPLAY_NAME_LENGTH,
    clean_display_name,
    normalize_email,
    require_text,
)
from service_runtime.errors import FailedPrecondition, InvalidArgument, Unauthenticated

PROVIDERS = frozenset({"google", "facebook", "github"})


@dataclass(frozen=True)
class ProviderProfile:
    provider: str
    subject: str
    email: str
    email_verified: bool
    display_name: str


@dataclass(frozen=True)
class OAuthOutcome:
    result: SignInResult
    user_id: str
    created: bool
    linked: bool
    # Sessions of an unproven registrant ended by this sign-in (their tokens are revoked after commit).
    ended_sessions: tuple[str, ...] = ()


def _validated(profile: ProviderProfile) -> ProviderProfile:
    provider = profile.provider.strip().lower()
    if provider not in PROVIDERS:
        raise InvalidArgument.field("provider", f"must be one of {', '.join(sorted(PROVIDERS))}")
    subject = require_text(profile.subject, "subject", 255)
    email = normalize_email(profile.email)
    # Providers' names can be long; an account name is cut rather than refused.
    name = clean_display_name(profile.display_name.strip()[:MAX_DISPLAY_NAME_LENGTH])
    return ProviderProfile(provider, subject, email, profile.email_verified, name)


async def complete_oauth_login(identity: Identity, profile: ProviderProfile, client: Client) -> OAuthOutcome:
    p = _validated(profile)
    method = f"oauth:{p.provider}"

    def work(s: Session) -> OAuthOutcome | str:
        now = identity.now()
        created = linked = False
        cleared_sessions: list[str] = []
        known = repo.oauth_identity(s, p.provider, p.subject)
        if known is not None:
            user = repo.get_user(s, known.user_id, lock=True)
            assert user is not None
        else:
            existing = repo.user_by_email(s, p.email)
            if existing is not None:
                if not p.email_verified:
                    return "unverified_email_matches_account"
                user = existing
                repo.get_user(s, user.id, lock=True)
                detail: dict[str, object] = {"provider": p.provider}
                if not user.email_verified:
                    # Someone registered this address without proving it; the provider now proves
                    # the real owner. Drop what the unproven registrant may have set up.
                    user.password_hash = None
                    user.totp_enabled = False
                    user.totp_secret_encrypted = None
                    repo.delete_backup_codes(s, user.id)
                    cleared_sessions = repo.revoke_user_sessions(s, user.id, now, "account_claimed_by_oauth")
                    user.email_verified = True
                    detail["password_cleared"] = True
                s.add(
                    OAuthIdentity(
                        provider=p.provider, subject=p.subject, user_id=user.id, email=p.email, created_at=now
                    )
                )
                user.updated_at = now
                linked = True
                audit.record(
                    s,
                    identity,
                    "auth.oauth.linked",
                    client,
                    actor_id=user.id,
                    subject_id=user.id,
                    after={"linked_provider": p.provider},
                    detail=detail,
                )
            else:
                user = User(
                    id=str(uuid.uuid4()),
                    email=p.email,
                    email_verified=p.email_verified,
                    password_hash=None,
                    display_name=p.display_name,
                    role="user",
                    status="active",
                    plan="free",
                    totp_enabled=False,
                    phone_verified=False,
                    created_at=now,
                    updated_at=now,
                )
                s.add(user)
                s.flush()
                s.add(
                    OAuthIdentity(
                        provider=p.provider, subject=p.subject, user_id=user.id, email=p.email, created_at=now
                    )
                )
                created = True
                audit.record(
                    s,
                    identity,
                    "auth.oauth.account_created",
                    client,
                    actor_id=user.id,
                    subject_id=user.id,
                    after={
                        "email": user.email,
                        "email_verified": user.email_verified,
                        "linked_provider": p.provider,
                    },
                )
        if user.status != "active":
            return "suspended:" + user.id
        s.flush()
        result = complete_sign_in(s, identity, user.id, method, client)
        return OAuthOutcome(result, user.id, created, linked, tuple(cleared_sessions))

    outcome = await identity.db.run(work)
    if isinstance(outcome, str):
        reason, _, user_id = outcome.partition(":")
        await audit.record_alone(
            identity,
            "auth.oauth.failed",
            client,
            subject_id=user_id,
            detail={"reason": reason, "provider": p.provider},
        )
        if reason == "suspended":
            raise Unauthenticated("sign-in refused")
        raise FailedPrecondition(
            "an account already uses this email; sign in to it first (the provider did not verify the email)"
        )
    for session_id in outcome.ended_sessions:
        await identity.revocations.revoke_session(session_id)
    return outcome
