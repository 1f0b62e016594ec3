"""An address's owner taking over the account someone registered with it without proving it.

Registration does not wait for the address to be proven: whoever registers victim@example.com can
sign in, set a phone number, turn TOTP on and link a provider before the owner ever hears of it.
When the owner proves the address (a provider that verified it, a reset link that reached the
mailbox, the admin command line), every way in the unproven registrant may have set up goes.
"""

from __future__ import annotations

from datetime import datetime

from business.audit import domain as audit
from business.audit.domain import Client
from business.identity.domain.entities import User
from business.identity.domain.ports import IdentityUnitOfWork
from business.identity.domain.second_factor import LOGIN_CHALLENGE

# How the owner proved the address (the audit entry's detail, the sessions' revoke reason).
BY_OAUTH = "oauth"
BY_PASSWORD_RESET = "password_reset"
BY_ADMIN_CLI = "admin_cli"


def _access(user: User) -> audit.Values:
    """What of the account lets someone in, as the audit log may show it (no secrets)."""
    return {
        "email_verified": user.email_verified,
        "has_password": user.password_hash is not None,
        "phone_number": user.phone_number,
        "phone_verified": user.phone_verified,
        "totp_enabled": user.totp_enabled,
    }


def claim_unproven_account(
    uow: IdentityUnitOfWork, now: datetime, user: User, client: Client, *, proof: str, actor_id: str
) -> list[str]:
    """`user`'s email was never proven and `proof` now proves its owner: drops the password, TOTP
    and its backup codes, the phone number, every OAuth link, open 2FA challenges and every
    session, and marks the address proven. Changes `user` in place (locked by the caller, who
    saves it and may give it a new password or link); audited as `auth.account.claimed`.
    Returns the sessions ended: the caller revokes their access tokens (`sessions.revoke_ahead`)."""
    before = _access(user)
    user.password_hash = None
    user.totp_enabled = False
    user.totp_secret_encrypted = None
    user.totp_last_step = None
    user.phone_number = None
    user.phone_verified = False
    user.email_verified = True
    user.updated_at = now
    uow.backup_codes.delete_all(user.id)
    unlinked = uow.oauth_identities.providers_of(user.id)
    for provider in unlinked:
        uow.oauth_identities.remove(user.id, provider)
    uow.one_time_codes.retire(LOGIN_CHALLENGE, now, user_id=user.id)
    ended = uow.sign_in_sessions.revoke_all_of(user.id, now, f"account_claimed_by_{proof}")
    old, new = audit.changes(before, _access(user))
    audit.record(
        uow.audit,
        now,
        "auth.account.claimed",
        client,
        actor_id=actor_id,
        subject_id=user.id,
        before=old,
        after=new,
        detail={"proof": proof, "sessions_ended": len(ended), "unlinked_providers": unlinked},
    )
    return ended
