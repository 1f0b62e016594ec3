"""The owner of an address taking back the account someone registered with it without proving it.
The squatter registers the address, signs in (sign-in does not wait for the proof), sets their
own phone number, turns TOTP on and has a sign-in text in hand; then the owner proves the
address, through a provider or a reset link. Afterwards the squatter has no way in left, and
nothing of theirs stands in the owner's way."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from business.identity.domain import accounts, email_links, oauth_login, phone_login, sessions
from business.identity.domain.context import Identity
from business.identity.domain.entities import User
from business.identity.domain.oauth_login import ProviderProfile
from business.identity.domain.sessions import Challenge, TokenPair
from service_runtime.caller import Caller
from service_runtime.errors import DependencyUnavailable, FailedPrecondition, InvalidArgument, Unauthenticated
from tests.business.identity.conftest import CLIENT, PASSWORD, Outbox, Texts
from tests.business.identity.helpers import (
    RevocationsDownOnce,
    audit_actions,
    signed_in,
    stored_user,
    with_totp,
)

SQUATTERS_PHONE = "+14155550177"
OWNERS_PHONE = "+14155550188"
OWNERS_PASSWORD = "the owner's very own passphrase 7"


@dataclass(frozen=True)
class Squat:
    user: User
    tokens: TokenPair
    texted_code: str


async def squatted(identity: Identity, outbox: Outbox) -> Squat:
    user, tokens = await signed_in(identity)  # registered, never proven
    await accounts.update_me(identity, user.id, None, SQUATTERS_PHONE, CLIENT)
    await with_totp(identity, user.id)
    await phone_login.start_phone_login(identity, SQUATTERS_PHONE, CLIENT)
    await identity.drain()
    return Squat(user, tokens, Texts(outbox).code_for(SQUATTERS_PHONE))


async def assert_squatter_has_no_way_in(identity: Identity, outbox: Outbox, squat: Squat) -> None:
    with pytest.raises(Unauthenticated):  # the code texted to their number before the claim
        await phone_login.verify_phone_login(identity, SQUATTERS_PHONE, squat.texted_code, CLIENT)
    texts_before = len(outbox.texts)
    await phone_login.start_phone_login(identity, SQUATTERS_PHONE, CLIENT)
    await identity.drain()
    assert len(outbox.texts) == texts_before  # the number is no longer the account's
    with pytest.raises(Unauthenticated):
        await sessions.refresh(identity, squat.tokens.refresh_token, CLIENT)
    access = Caller(squat.user.id, frozenset({"user"}), "free", session_id=squat.tokens.session_id)
    assert await identity.revocations.is_revoked(access)
    with pytest.raises(Unauthenticated):
        await accounts.login(identity, squat.user.email, PASSWORD, CLIENT)
    stored = stored_user(identity, squat.user.id)
    assert (stored.phone_number, stored.phone_verified) == (None, False)
    assert not stored.totp_enabled and stored.totp_secret_encrypted is None and stored.email_verified
    assert identity.transactions.run_sync(lambda uow: uow.backup_codes.remaining(squat.user.id)) == 0
    assert "auth.account.claimed" in audit_actions(identity, squat.user.id)


async def test_the_owner_signing_in_with_a_provider_takes_the_account_back(
    identity: Identity, outbox: Outbox
) -> None:
    squat = await squatted(identity, outbox)
    owner = ProviderProfile("google", "g-owner", squat.user.email, True, "Owner")
    outcome = await oauth_login.complete_oauth_login(identity, owner, CLIENT)
    assert outcome.linked and outcome.user_id == squat.user.id
    assert isinstance(outcome.result, TokenPair)  # no challenge for the squatter's TOTP
    await assert_squatter_has_no_way_in(identity, outbox, squat)
    assert (await accounts.load_account(identity, squat.user.id)).linked_providers == ["google"]


async def test_a_claim_by_provider_with_the_revocation_store_down_claims_nothing_until_retried(
    identity: Identity, outbox: Outbox
) -> None:
    """The squatter's access tokens are revoked before the claim commits: after it, a failure
    would leave them valid with the sessions already ended, and the retry, a plain sign-in of a
    linked account, would end nothing."""
    squat = await squatted(identity, outbox)
    owner = ProviderProfile("google", "g-owner", squat.user.email, True, "Owner")
    working = identity.revocations
    identity.revocations = RevocationsDownOnce(working)
    with pytest.raises(DependencyUnavailable):
        await oauth_login.complete_oauth_login(identity, owner, CLIENT)
    assert stored_user(identity, squat.user.id).totp_enabled  # nothing claimed yet
    assert (await oauth_login.complete_oauth_login(identity, owner, CLIENT)).linked
    await assert_squatter_has_no_way_in(identity, outbox, squat)


async def test_the_owner_resetting_the_password_takes_the_account_back(
    identity: Identity, outbox: Outbox
) -> None:
    squat = await squatted(identity, outbox)
    await email_links.forgot_password(identity, squat.user.email, CLIENT)
    await identity.drain()
    await email_links.reset_password(identity, outbox.link_token(squat.user.email), OWNERS_PASSWORD, CLIENT)
    # The owner signs in with the new password alone: the squatter's TOTP no longer locks them out.
    assert isinstance(await accounts.login(identity, squat.user.email, OWNERS_PASSWORD, CLIENT), TokenPair)
    await assert_squatter_has_no_way_in(identity, outbox, squat)


async def test_the_owner_opening_the_squatters_verification_mail_verifies_nothing(
    identity: Identity, outbox: Outbox
) -> None:
    squat = await squatted(identity, outbox)
    link = outbox.link_token(squat.user.email)  # the mail the squatter's registration sent
    with pytest.raises(InvalidArgument) as refused:  # the owner does not know the squatter's password
        await email_links.verify_email(identity, link, OWNERS_PASSWORD, CLIENT)
    assert [v.field for v in refused.value.violations] == ["password"]
    assert not stored_user(identity, squat.user.id).email_verified
    # Still unproven, so the owner's reset still claims it: nothing of the squatter's stays.
    await email_links.forgot_password(identity, squat.user.email, CLIENT)
    await identity.drain()
    await email_links.reset_password(identity, outbox.link_token(squat.user.email), OWNERS_PASSWORD, CLIENT)
    await assert_squatter_has_no_way_in(identity, outbox, squat)


async def test_a_claim_unlinks_the_provider_the_squatter_signed_up_with(
    identity: Identity, outbox: Outbox
) -> None:
    email = "victim@example.com"
    squatter = ProviderProfile("github", "gh-squatter", email, False, "Squatter")  # GitHub did not verify it
    created = await oauth_login.complete_oauth_login(identity, squatter, CLIENT)
    assert created.created and (await accounts.load_account(identity, created.user_id)).linked_providers == [
        "github"
    ]
    await email_links.forgot_password(identity, email, CLIENT)
    await identity.drain()
    await email_links.reset_password(identity, outbox.link_token(email), OWNERS_PASSWORD, CLIENT)
    assert (await accounts.load_account(identity, created.user_id)).linked_providers == []
    with pytest.raises(FailedPrecondition):  # no link now, and an unverified email links nothing
        await oauth_login.complete_oauth_login(identity, squatter, CLIENT)


async def test_resetting_a_proven_accounts_password_keeps_its_second_factor_and_phone(
    identity: Identity, outbox: Outbox
) -> None:
    user, _ = await signed_in(identity)
    await email_links.verify_email(identity, outbox.link_token(user.email), PASSWORD, CLIENT)
    await accounts.update_me(identity, user.id, None, OWNERS_PHONE, CLIENT)
    await with_totp(identity, user.id)
    await email_links.forgot_password(identity, user.email, CLIENT)
    await identity.drain()
    await email_links.reset_password(identity, outbox.link_token(user.email), OWNERS_PASSWORD, CLIENT)
    assert isinstance(await accounts.login(identity, user.email, OWNERS_PASSWORD, CLIENT), Challenge)
    assert stored_user(identity, user.id).phone_number == OWNERS_PHONE
    assert "auth.account.claimed" not in audit_actions(identity, user.id)
