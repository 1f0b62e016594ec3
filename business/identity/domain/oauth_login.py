"""Sign-in completed by an OAuth / OpenID Connect provider (the gateway did the redirects)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from business.audit.domain import Client
from business.identity.domain.accounts import Account, account_of, complete_sign_in
from business.identity.domain.context import Identity
from business.identity.domain.entities import OAuthIdentity, User
from business.identity.domain.ownership import BY_OAUTH, claim_unproven_account
from business.identity.domain.ports import IdentityUnitOfWork
from business.identity.domain.sessions import SignInResult, revoke_open_sessions_ahead, revoke_the_rest
from business.identity.domain.validation import (
    MAX_DISPLAY_NAME_LENGTH,
    clean_display_name,
    normalize_email,
    require_text,
)
from service_runtime.errors import FailedPrecondition, InvalidArgument, NotFound, Unauthenticated

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
    # Sessions of an unproven registrant ended by this sign-in (revoked ahead of the commit).
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


@dataclass(frozen=True)
class _Refusal:
    """A sign-in refused; what the transaction wrote until then stays. The reason (and the account
    concerned) go to the audit log."""

    reason: str
    user_id: str = ""


def _link(uow: IdentityUnitOfWork, identity: Identity, user: User, p: ProviderProfile) -> None:
    uow.oauth_identities.add(
        OAuthIdentity(
            provider=p.provider, subject=p.subject, user_id=user.id, email=p.email, created_at=identity.now()
        )
    )


def _link_existing_account(
    uow: IdentityUnitOfWork, identity: Identity, user: User, p: ProviderProfile, client: Client
) -> list[str]:
    """Links the provider to `user` (locked), the account with the provider's (verified) email;
    returns the sessions of an unproven registrant it ended."""
    detail: dict[str, object] = {"provider": p.provider}
    ended: list[str] = []
    if not user.email_verified:
        # The provider proves the address's owner: whoever registered it unproven loses access.
        ended = claim_unproven_account(uow, identity.now(), user, client, proof=BY_OAUTH, actor_id=user.id)
        detail["password_cleared"] = True
    _link(uow, identity, user, p)
    user.updated_at = identity.now()
    uow.users.save(user)
    identity.record(
        uow,
        "auth.oauth.linked",
        client,
        actor_id=user.id,
        subject_id=user.id,
        after={"linked_provider": p.provider},
        detail=detail,
    )
    return ended


def _create_account(uow: IdentityUnitOfWork, identity: Identity, p: ProviderProfile, client: Client) -> User:
    now = identity.now()
    user = User(
        id=str(uuid.uuid4()),
        email=p.email,
        email_verified=p.email_verified,
        display_name=p.display_name,
        created_at=now,
        updated_at=now,
    )
    uow.users.add(user)
    _link(uow, identity, user, p)
    identity.record(
        uow,
        "auth.oauth.account_created",
        client,
        actor_id=user.id,
        subject_id=user.id,
        after={"email": user.email, "email_verified": user.email_verified, "linked_provider": p.provider},
    )
    return user


def _sign_in(
    uow: IdentityUnitOfWork, identity: Identity, p: ProviderProfile, client: Client
) -> OAuthOutcome | _Refusal:
    """Finds the linked account, or links the one with the same email (verified by the provider),
    or creates one; then signs in (one transaction)."""
    known = uow.oauth_identities.get(p.provider, p.subject)
    created = linked = False
    ended: list[str] = []
    if known is not None:
        user = uow.users.get(known.user_id, for_update=True)
        assert user is not None
    elif (existing := uow.users.by_email(p.email)) is not None:
        if not p.email_verified:
            return _Refusal("unverified_email_matches_account")
        # Locked, and read again under the lock: what the claim clears is what is there now.
        user = uow.users.get(existing.id, for_update=True)
        assert user is not None
        ended = _link_existing_account(uow, identity, user, p, client)
        linked = True
    else:
        user = _create_account(uow, identity, p, client)
        created = True
    if not user.is_active:
        return _Refusal("suspended", user.id)
    result = complete_sign_in(uow, identity, user.id, f"oauth:{p.provider}", client)
    return OAuthOutcome(result, user.id, created, linked, tuple(ended))


def _account_to_claim(uow: IdentityUnitOfWork, p: ProviderProfile) -> str:
    """The id of the unproven account this sign-in will claim ('' for none): `_sign_in`'s own
    choice, read ahead of it."""
    if not p.email_verified or uow.oauth_identities.get(p.provider, p.subject) is not None:
        return ""
    existing = uow.users.by_email(p.email)
    return existing.id if existing is not None and not existing.email_verified else ""


async def complete_oauth_login(identity: Identity, profile: ProviderProfile, client: Client) -> OAuthOutcome:
    p = _validated(profile)
    revoked: frozenset[str] = frozenset()
    if claimed := await identity.transactions.run(lambda uow: _account_to_claim(uow, p)):
        # The registrant's sessions end with the claim: their tokens are revoked before it commits.
        revoked = await revoke_open_sessions_ahead(identity, claimed)
    outcome = await identity.transactions.run(lambda uow: _sign_in(uow, identity, p, client))
    if isinstance(outcome, _Refusal):
        await identity.record_failure(
            "auth.oauth.failed",
            client,
            subject_id=outcome.user_id,
            detail={"reason": outcome.reason, "provider": p.provider},
        )
        if outcome.reason == "suspended":
            raise Unauthenticated("sign-in refused")
        raise FailedPrecondition(
            "an account already uses this email; sign in to it first (the provider did not verify the email)"
        )
    await revoke_the_rest(identity, outcome.ended_sessions, revoked)
    return outcome


def _sign_in_ways_without(uow: IdentityUnitOfWork, user: User, provider: str) -> list[str]:
    """How the account could still sign in once `provider` is unlinked."""
    ways = [p for p in uow.oauth_identities.providers_of(user.id) if p != provider]
    if user.password_hash:
        ways.append("password")
    if user.phone_number:
        ways.append("phone")
    return ways


async def unlink_provider(identity: Identity, user_id: str, provider: str, client: Client) -> Account:
    """Unlinks `provider` from the account, unless it is the last way to sign in."""
    name = provider.strip().lower()
    if name not in PROVIDERS:
        raise InvalidArgument.field("provider", f"must be one of {', '.join(sorted(PROVIDERS))}")

    def work(uow: IdentityUnitOfWork) -> Account:
        user = uow.users.get(user_id, for_update=True)
        if user is None:
            raise NotFound("account not found")
        if name not in uow.oauth_identities.providers_of(user.id):
            raise NotFound(f"{name} is not linked to this account")
        if not _sign_in_ways_without(uow, user, name):
            raise FailedPrecondition(
                f"{name} is this account's only way to sign in: set a password or link another provider first"
            )
        uow.oauth_identities.remove(user.id, name)
        identity.record(
            uow,
            "user.oauth.unlinked",
            client,
            actor_id=user.id,
            subject_id=user.id,
            detail={"provider": name},
        )
        return account_of(uow, user)

    return await identity.transactions.run(work)
