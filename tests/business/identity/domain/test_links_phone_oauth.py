"""Registration mail, email links, password reset, phone sign-in and OAuth completion."""

from __future__ import annotations

import time

import pytest

from business.identity.domain import accounts, email_links, oauth_login, phone_login
from business.identity.domain.context import Identity
from business.identity.domain.oauth_login import ProviderProfile
from business.identity.domain.sessions import TokenPair
from service_runtime.caller import Caller
from service_runtime.errors import (
    DependencyUnavailable,
    FailedPrecondition,
    InvalidArgument,
    TooManyAttempts,
    Unauthenticated,
)
from tests.business.identity.conftest import CLIENT, PASSWORD, Clock, Outbox, Texts, new_email
from tests.business.identity.helpers import RevocationsDownOnce, audit_actions, registered, signed_in


async def test_register_answers_the_same_for_a_taken_email(identity: Identity, outbox: Outbox) -> None:
    email = new_email()
    first = await accounts.register(identity, email, PASSWORD, "Ann", CLIENT)
    await email_links.verify_email(identity, outbox.link_token(email), PASSWORD, CLIENT)
    second = await accounts.register(identity, email.upper(), "another good passphrase 9", "Ann", CLIENT)
    assert first == second
    assert [m.to for m in outbox.emails] == [email, email]
    assert "verify-email?token=" in outbox.emails[0].text
    # The holder did not ask for a reset: no link that does anything, a pointer to the page.
    assert (
        "token=" not in outbox.emails[1].text and "http://web.test/forgot-password" in outbox.emails[1].text
    )


async def test_registering_again_an_address_never_proven_sends_a_new_verification_link(
    identity: Identity, outbox: Outbox
) -> None:
    """The retry of a registration whose mail failed (SMTP down) gets the link it asked for, not
    "already registered"; the link still needs the first registration's password."""
    email = new_email()
    await accounts.register(identity, email, PASSWORD, "Ann", CLIENT)
    first_link = outbox.link_token(email)
    await accounts.register(identity, email, "another good passphrase 9", "Ann", CLIENT)
    second_link = outbox.link_token(email)
    assert second_link != first_link and "Confirm your email" in outbox.emails[-1].subject
    with pytest.raises(InvalidArgument):  # retired by the new one
        await email_links.verify_email(identity, first_link, PASSWORD, CLIENT)
    with pytest.raises(InvalidArgument) as wrong:  # the retry's password is not the account's
        await email_links.verify_email(identity, second_link, "another good passphrase 9", CLIENT)
    assert [v.field for v in wrong.value.violations] == ["password"]
    await email_links.verify_email(identity, second_link, PASSWORD, CLIENT)


async def test_register_names_every_bad_field(identity: Identity) -> None:
    with pytest.raises(InvalidArgument) as bad:
        await accounts.register(identity, "not-an-email", "password", "x" * 81, CLIENT)
    assert {v.field for v in bad.value.violations} == {"email", "display_name"}
    with pytest.raises(InvalidArgument) as weak:
        await accounts.register(identity, new_email(), "password1234", "", CLIENT)
    assert [v.field for v in weak.value.violations] == ["password"]
    with pytest.raises(InvalidArgument) as long:
        await accounts.register(identity, new_email(), "p" * 129, "", CLIENT)
    assert [v.field for v in long.value.violations] == ["password"]


async def test_verification_link_is_single_use_and_expires(
    identity: Identity, outbox: Outbox, clock: Clock
) -> None:
    user = await registered(identity)
    token = outbox.link_token(user.email)
    await email_links.verify_email(identity, token, PASSWORD, CLIENT)
    stored = identity.transactions.run_sync(lambda uow: uow.users.get(user.id))
    assert stored is not None and stored.email_verified
    with pytest.raises(InvalidArgument) as again:
        await email_links.verify_email(identity, token, PASSWORD, CLIENT)
    assert again.value.violations[0].field == "token"

    late = await registered(identity)
    clock.advance(24 * 3600 + 1)
    with pytest.raises(InvalidArgument):
        await email_links.verify_email(identity, outbox.link_token(late.email), PASSWORD, CLIENT)
    assert await email_links.resend_verification(identity, late.id, CLIENT)
    await email_links.verify_email(identity, outbox.link_token(late.email), PASSWORD, CLIENT)
    assert not await email_links.resend_verification(identity, late.id, CLIENT)


async def test_verification_needs_the_registrants_password_and_counts_the_guesses(
    identity: Identity, outbox: Outbox
) -> None:
    user = await registered(identity)
    token = outbox.link_token(user.email)
    for _ in range(5):
        with pytest.raises(InvalidArgument) as wrong:
            await email_links.verify_email(identity, token, "not the password at all 1", CLIENT)
        assert [v.field for v in wrong.value.violations] == ["password"]
    with pytest.raises(TooManyAttempts):  # counted with sign-ins: the link is no password oracle
        await email_links.verify_email(identity, token, PASSWORD, CLIENT)
    with pytest.raises(InvalidArgument) as missing:
        await email_links.verify_email(identity, token, "", CLIENT)
    assert [v.field for v in missing.value.violations] == ["password"]
    stored = identity.transactions.run_sync(lambda uow: uow.users.get(user.id))
    assert stored is not None and not stored.email_verified
    assert "auth.email.verify_failed" in audit_actions(identity, user.id)


async def test_password_reset_ends_every_session(identity: Identity, outbox: Outbox) -> None:
    user, pair = await signed_in(identity)
    assert await email_links.forgot_password(
        identity, user.email, CLIENT
    ) == await email_links.forgot_password(identity, new_email(), CLIENT)
    await identity.drain()
    token = outbox.link_token(user.email)
    with pytest.raises(InvalidArgument) as weak:
        await email_links.reset_password(identity, token, "short", CLIENT)
    assert weak.value.violations[0].field == "new_password"
    await email_links.reset_password(identity, token, "a whole new passphrase 5", CLIENT)
    with pytest.raises(Unauthenticated):
        await sessions_refresh(identity, pair.refresh_token)
    assert await identity.revocations.is_revoked(Caller(user.id, frozenset(), "", issued_at=0))
    with pytest.raises(InvalidArgument):
        await email_links.reset_password(identity, token, "yet another passphrase 6", CLIENT)
    assert isinstance(
        await accounts.login(identity, user.email, "a whole new passphrase 5", CLIENT), TokenPair
    )
    assert "auth.password.reset" in audit_actions(identity, user.id)


async def test_a_reset_with_the_revocation_store_down_changes_nothing_and_the_link_still_works(
    identity: Identity, outbox: Outbox
) -> None:
    user, _ = await signed_in(identity)
    intruders = Caller(user.id, frozenset({"user"}), "free", issued_at=time.time() - 1)
    await email_links.forgot_password(identity, user.email, CLIENT)
    await identity.drain()
    token = outbox.link_token(user.email)
    working = identity.revocations
    identity.revocations = RevocationsDownOnce(working)
    with pytest.raises(DependencyUnavailable):
        await email_links.reset_password(identity, token, "a whole new passphrase 5", CLIENT)
    assert await accounts.login(identity, user.email, PASSWORD, CLIENT)  # the old password still
    await email_links.reset_password(identity, token, "a whole new passphrase 5", CLIENT)  # link unspent
    assert await working.is_revoked(intruders)


async def sessions_refresh(identity: Identity, token: str) -> TokenPair:
    from business.identity.domain.sessions import refresh

    return await refresh(identity, token, CLIENT)


async def test_phone_login(identity: Identity, outbox: Outbox) -> None:
    user, _ = await signed_in(identity)
    await accounts.update_me(identity, user.id, None, "+34 600 111 222", CLIENT)
    texts = Texts(outbox)
    assert await phone_login.start_phone_login(identity, "+34600111222", CLIENT) == 300
    assert (
        await phone_login.start_phone_login(identity, "+34600999999", CLIENT) == 300
    )  # unknown: same answer
    await identity.drain()
    assert [to for to, _ in outbox.texts] == ["+34600111222"]
    code = texts.code_for("+34600111222")
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(Unauthenticated):
        await phone_login.verify_phone_login(identity, "+34600111222", wrong, CLIENT)
    result = await phone_login.verify_phone_login(identity, "+34600111222", code, CLIENT)
    assert isinstance(result, TokenPair)
    stored = identity.transactions.run_sync(lambda uow: uow.users.get(user.id))
    assert stored is not None and stored.phone_verified
    with pytest.raises(Unauthenticated):  # the code was used
        await phone_login.verify_phone_login(identity, "+34600111222", code, CLIENT)
    with pytest.raises(InvalidArgument) as bad:
        await phone_login.start_phone_login(identity, "12345", CLIENT)
    assert bad.value.violations[0].field == "phone_number"


async def test_sms_code_dies_after_five_wrong_answers(identity: Identity, outbox: Outbox) -> None:
    user, _ = await signed_in(identity)
    await accounts.update_me(identity, user.id, None, "+14155550123", CLIENT)
    await phone_login.start_phone_login(identity, "+14155550123", CLIENT)
    await identity.drain()
    code = Texts(outbox).code_for("+14155550123")
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            await phone_login.verify_phone_login(identity, "+14155550123", wrong, CLIENT)
        identity.limiter.counters = type(identity.limiter.counters)()  # isolate the per-code limit
    with pytest.raises(Unauthenticated):
        await phone_login.verify_phone_login(identity, "+14155550123", code, CLIENT)


def profile(
    email: str, verified: bool = True, subject: str = "sub-1", provider: str = "google"
) -> ProviderProfile:
    return ProviderProfile(provider, subject, email, verified, "Oauth Person")


async def test_oauth_creates_then_finds_the_account(identity: Identity) -> None:
    email = new_email()
    created = await oauth_login.complete_oauth_login(identity, profile(email), CLIENT)
    assert created.created and not created.linked and isinstance(created.result, TokenPair)
    again = await oauth_login.complete_oauth_login(identity, profile(email), CLIENT)
    assert again.user_id == created.user_id and not again.created
    account = await accounts.load_account(identity, created.user_id)
    assert account.linked_providers == ["google"] and account.user.password_hash is None
    assert "auth.oauth.account_created" in audit_actions(identity, created.user_id)
    with pytest.raises(InvalidArgument) as bad:
        await oauth_login.complete_oauth_login(identity, profile(email, provider="myspace"), CLIENT)
    assert bad.value.violations[0].field == "provider"


async def test_oauth_links_only_a_verified_email(identity: Identity, outbox: Outbox) -> None:
    user = await registered(identity)
    await email_links.verify_email(identity, outbox.link_token(user.email), PASSWORD, CLIENT)
    with pytest.raises(FailedPrecondition):
        await oauth_login.complete_oauth_login(
            identity, profile(user.email, verified=False, subject="gh-1", provider="github"), CLIENT
        )
    linked = await oauth_login.complete_oauth_login(
        identity, profile(user.email, subject="gh-1", provider="github"), CLIENT
    )
    assert linked.linked and linked.user_id == user.id
    # The password still works: the local address was proven before the link.
    assert isinstance(await accounts.login(identity, user.email, PASSWORD, CLIENT), TokenPair)


async def test_oauth_claims_an_unproven_registration(identity: Identity) -> None:
    squatter = await registered(identity)  # registered the address but never proved it
    outcome = await oauth_login.complete_oauth_login(identity, profile(squatter.email, subject="g-9"), CLIENT)
    assert outcome.linked and outcome.user_id == squatter.id
    with pytest.raises(Unauthenticated):
        await accounts.login(identity, squatter.email, PASSWORD, CLIENT)
