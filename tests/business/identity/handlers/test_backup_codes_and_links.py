"""UserService's RegenerateBackupCodes, the backup-code count on the account, and
UnlinkOAuthProvider, through a real server with the production interceptors."""

from __future__ import annotations

import grpc
import pyotp
import pytest

from business.identity.domain import accounts, oauth_login, second_factor
from business.identity.domain.context import Identity
from business.identity.domain.ports import IdentityUnitOfWork
from business.identity.domain.second_factor import Factor
from business.identity.domain.sessions import Challenge
from tests.business.identity.conftest import CLIENT, PASSWORD, Clock, new_email
from tests.business.identity.helpers import audit_actions, signed_in, stored_user
from tests.support.in_process import violated_fields
from trading.identity.v1 import user_service_pb2 as pb
from trading.identity.v1 import user_service_pb2_grpc as pb_grpc

Metadata = tuple[tuple[str, str], ...]


async def _with_2fa(channel: grpc.aio.Channel, identity: Identity) -> tuple[Metadata, pyotp.TOTP, list[str]]:
    _, pair = await signed_in(identity, new_email())
    bearer = (("authorization", f"Bearer {pair.access_token}"),)
    stub = pb_grpc.UserServiceStub(channel)
    enrolled = await stub.EnrollTotp(pb.EnrollTotpRequest(), metadata=bearer)
    totp = pyotp.TOTP(enrolled.secret)
    confirmed = await stub.ConfirmTotp(pb.ConfirmTotpRequest(code=totp.now()), metadata=bearer)
    return bearer, totp, list(confirmed.backup_codes)


async def _refused(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call  # type: ignore[misc]
    return refused.value


async def test_regenerating_backup_codes_replaces_them_and_the_count_follows(
    channel: grpc.aio.Channel, identity: Identity
) -> None:
    bearer, _, old = await _with_2fa(channel, identity)
    stub = pb_grpc.UserServiceStub(channel)
    assert (await stub.GetMe(pb.GetMeRequest(), metadata=bearer)).user.backup_codes_remaining == 10

    # One old backup code is the fresh factor: spent, and every other old one dies with it.
    new = await stub.RegenerateBackupCodes(
        pb.RegenerateBackupCodesRequest(backup_code=old[0]), metadata=bearer
    )
    assert len(new.backup_codes) == 10 and not set(new.backup_codes) & set(old)
    assert (await stub.GetMe(pb.GetMeRequest(), metadata=bearer)).user.backup_codes_remaining == 10
    stale = await _refused(
        stub.RegenerateBackupCodes(pb.RegenerateBackupCodesRequest(backup_code=old[1]), metadata=bearer)
    )
    assert stale.code() == grpc.StatusCode.INVALID_ARGUMENT and violated_fields(stale) == ["backup_code"]

    # A new code works once, and the count says so.
    again = await stub.RegenerateBackupCodes(
        pb.RegenerateBackupCodesRequest(backup_code=new.backup_codes[0]), metadata=bearer
    )
    disable = pb.DisableTotpRequest(backup_code=again.backup_codes[0])
    await stub.DisableTotp(disable, metadata=bearer)
    me = (await stub.GetMe(pb.GetMeRequest(), metadata=bearer)).user
    assert not me.totp_enabled and me.backup_codes_remaining == 0


async def test_the_count_drops_as_codes_are_used(channel: grpc.aio.Channel, identity: Identity) -> None:
    bearer, _, codes = await _with_2fa(channel, identity)
    stub = pb_grpc.UserServiceStub(channel)
    me = (await stub.GetMe(pb.GetMeRequest(), metadata=bearer)).user
    # A sign-in that spends a backup code, as VerifySecondFactor does.
    challenge = await accounts.login(identity, me.email, PASSWORD, CLIENT)
    assert isinstance(challenge, Challenge)
    await second_factor.verify_second_factor(
        identity, challenge.token, Factor("backup_code", codes[3]), CLIENT
    )
    assert (await stub.GetMe(pb.GetMeRequest(), metadata=bearer)).user.backup_codes_remaining == 9


async def test_regenerating_needs_2fa_on_and_one_valid_factor(
    channel: grpc.aio.Channel, identity: Identity, clock: Clock
) -> None:
    _, pair = await signed_in(identity, new_email())
    bearer = (("authorization", f"Bearer {pair.access_token}"),)
    stub = pb_grpc.UserServiceStub(channel)
    off = await _refused(
        stub.RegenerateBackupCodes(pb.RegenerateBackupCodesRequest(totp_code="123456"), metadata=bearer)
    )
    assert off.code() == grpc.StatusCode.FAILED_PRECONDITION
    missing = await _refused(stub.RegenerateBackupCodes(pb.RegenerateBackupCodesRequest(), metadata=bearer))
    assert missing.code() == grpc.StatusCode.INVALID_ARGUMENT and violated_fields(missing) == ["totp_code"]
    anonymous = await _refused(stub.RegenerateBackupCodes(pb.RegenerateBackupCodesRequest(totp_code="1")))
    assert anonymous.code() == grpc.StatusCode.UNAUTHENTICATED

    bearer, totp, _ = await _with_2fa(channel, identity)
    wrong = await _refused(
        stub.RegenerateBackupCodes(pb.RegenerateBackupCodesRequest(totp_code="000000"), metadata=bearer)
    )
    assert wrong.code() == grpc.StatusCode.INVALID_ARGUMENT and violated_fields(wrong) == ["totp_code"]
    clock.advance(30)  # the confirmation used the current step; the next one is fresh
    fresh = await stub.RegenerateBackupCodes(
        pb.RegenerateBackupCodesRequest(totp_code=totp.at(clock())), metadata=bearer
    )
    assert len(fresh.backup_codes) == 10


async def test_unlinking_a_provider_keeps_a_way_to_sign_in(
    channel: grpc.aio.Channel, identity: Identity
) -> None:
    # An account made by Google sign-in: no password, no phone.
    outcome = await oauth_login.complete_oauth_login(
        identity,
        oauth_login.ProviderProfile("google", "g-1", new_email(), True, "Gia"),
        CLIENT,
    )
    user_id = outcome.user_id
    tokens = outcome.result
    bearer = (("authorization", f"Bearer {tokens.access_token}"),)  # type: ignore[union-attr]
    stub = pb_grpc.UserServiceStub(channel)

    last = await _refused(
        stub.UnlinkOAuthProvider(pb.UnlinkOAuthProviderRequest(provider="google"), metadata=bearer)
    )
    assert last.code() == grpc.StatusCode.FAILED_PRECONDITION and "only way to sign in" in last.details()
    assert (await stub.GetMe(pb.GetMeRequest(), metadata=bearer)).user.linked_providers == ["google"]

    unknown = await _refused(
        stub.UnlinkOAuthProvider(pb.UnlinkOAuthProviderRequest(provider="myspace"), metadata=bearer)
    )
    assert unknown.code() == grpc.StatusCode.INVALID_ARGUMENT and violated_fields(unknown) == ["provider"]
    not_linked = await _refused(
        stub.UnlinkOAuthProvider(pb.UnlinkOAuthProviderRequest(provider="github"), metadata=bearer)
    )
    assert not_linked.code() == grpc.StatusCode.NOT_FOUND

    # With GitHub linked too, Google can go; then GitHub is the last way again.
    email = stored_user(identity, user_id).email
    await oauth_login.complete_oauth_login(
        identity, oauth_login.ProviderProfile("github", "gh-1", email, True, "Gia"), CLIENT
    )
    done = await stub.UnlinkOAuthProvider(pb.UnlinkOAuthProviderRequest(provider="Google"), metadata=bearer)
    assert list(done.user.linked_providers) == ["github"]
    again = await _refused(
        stub.UnlinkOAuthProvider(pb.UnlinkOAuthProviderRequest(provider="github"), metadata=bearer)
    )
    assert again.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "user.oauth.unlinked" in audit_actions(identity, user_id)


async def test_a_password_or_a_phone_counts_as_a_way_to_sign_in(
    channel: grpc.aio.Channel, identity: Identity
) -> None:
    user, pair = await signed_in(identity, new_email())  # has a password

    def verified(uow: IdentityUnitOfWork) -> None:
        # A proven address: linking GitHub keeps the password (an unproven one would lose it).
        found = uow.users.get(user.id)
        assert found is not None
        found.email_verified = True
        uow.users.save(found)

    identity.transactions.run_sync(verified)
    await oauth_login.complete_oauth_login(
        identity, oauth_login.ProviderProfile("github", "gh-2", user.email, True, ""), CLIENT
    )
    bearer = (("authorization", f"Bearer {pair.access_token}"),)
    stub = pb_grpc.UserServiceStub(channel)
    done = await stub.UnlinkOAuthProvider(pb.UnlinkOAuthProviderRequest(provider="github"), metadata=bearer)
    assert list(done.user.linked_providers) == []

    # An account made by Google sign-in with a phone number: phone sign-in remains.
    outcome = await oauth_login.complete_oauth_login(
        identity, oauth_login.ProviderProfile("google", "g-phone", new_email(), True, ""), CLIENT
    )

    def with_phone(uow: IdentityUnitOfWork) -> None:
        found = uow.users.get(outcome.user_id)
        assert found is not None
        found.phone_number = "+14155550123"
        uow.users.save(found)

    identity.transactions.run_sync(with_phone)
    phone_bearer = (("authorization", f"Bearer {outcome.result.access_token}"),)  # type: ignore[union-attr]
    unlinked = await stub.UnlinkOAuthProvider(
        pb.UnlinkOAuthProviderRequest(provider="google"), metadata=phone_bearer
    )
    assert list(unlinked.user.linked_providers) == [] and unlinked.user.phone_number == "+14155550123"
