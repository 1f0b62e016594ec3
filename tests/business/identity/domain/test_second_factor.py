"""TOTP enrollment, login challenges, one-time use of codes, backup codes, disabling."""

from __future__ import annotations

import urllib.parse

import pyotp
import pytest

from business.identity.domain import accounts, second_factor
from business.identity.domain.context import Identity
from business.identity.domain.second_factor import Factor
from business.identity.domain.sessions import Challenge, TokenPair
from service_runtime.errors import FailedPrecondition, InvalidArgument, Unauthenticated
from tests.business.identity.conftest import CLIENT, PASSWORD, Clock
from tests.business.identity.helpers import audit_actions, signed_in


def secret_of(uri: str) -> str:
    return urllib.parse.parse_qs(urllib.parse.urlparse(uri).query)["secret"][0]


async def enabled_2fa(identity: Identity) -> tuple[str, str, str, list[str]]:
    user, _ = await signed_in(identity)
    enrollment = await second_factor.enroll_totp(identity, user.id, CLIENT)
    assert enrollment.otpauth_uri.startswith("otpauth://totp/") and enrollment.qr_svg.lstrip().startswith(
        "<svg"
    )
    secret = secret_of(enrollment.otpauth_uri)
    assert secret == enrollment.secret
    codes = await second_factor.confirm_totp(identity, user.id, pyotp.TOTP(secret).now(), CLIENT)
    return user.id, user.email, secret, codes


async def test_enrollment_is_pending_until_confirmed(identity: Identity) -> None:
    user, _ = await signed_in(identity)
    enrollment = await second_factor.enroll_totp(identity, user.id, CLIENT)
    stored = identity.transactions.run_sync(lambda uow: uow.users.get(user.id))
    assert stored is not None and not stored.totp_enabled
    assert stored.totp_secret_encrypted and enrollment.secret not in stored.totp_secret_encrypted
    assert isinstance(await accounts.login(identity, user.email, PASSWORD, CLIENT), TokenPair)
    with pytest.raises(InvalidArgument) as wrong:
        await second_factor.confirm_totp(identity, user.id, "000000", CLIENT)
    assert wrong.value.violations[0].field == "code"
    # A missing code names the request's field too (it named totp_code, which ConfirmTotp lacks).
    with pytest.raises(InvalidArgument) as missing:
        await second_factor.confirm_totp(identity, user.id, "  ", CLIENT)
    assert [v.field for v in missing.value.violations] == ["code"]


async def test_login_with_2fa_needs_a_code_accepted_once(identity: Identity, clock: Clock) -> None:
    user_id, email, secret, codes = await enabled_2fa(identity)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert "user.totp.enabled" in audit_actions(identity, user_id)

    challenge = await accounts.login(identity, email, PASSWORD, CLIENT)
    assert isinstance(challenge, Challenge) and challenge.expires_in == 300
    clock.advance(30)  # the confirming code's step is spent; take the next one
    code = pyotp.TOTP(secret).at(clock())
    pair = await second_factor.verify_second_factor(identity, challenge.token, Factor("totp", code), CLIENT)
    assert isinstance(pair, TokenPair)
    with pytest.raises(Unauthenticated):  # the challenge is single use
        await second_factor.verify_second_factor(identity, challenge.token, Factor("totp", code), CLIENT)

    again = await accounts.login(identity, email, PASSWORD, CLIENT)
    assert isinstance(again, Challenge)
    with pytest.raises(Unauthenticated, match="invalid code"):  # same code, same step: refused
        await second_factor.verify_second_factor(identity, again.token, Factor("totp", code), CLIENT)
    # A wrong code leaves the challenge open for the right one.
    pair = await second_factor.verify_second_factor(
        identity, again.token, Factor("backup_code", codes[0]), CLIENT
    )
    assert isinstance(pair, TokenPair)
    actions = audit_actions(identity, user_id)
    assert {"auth.2fa.challenged", "auth.2fa.verified", "auth.2fa.failed"} <= set(actions)


async def test_backup_codes_are_single_use(identity: Identity) -> None:
    _, email, _, codes = await enabled_2fa(identity)
    first = await accounts.login(identity, email, PASSWORD, CLIENT)
    assert isinstance(first, Challenge)
    await second_factor.verify_second_factor(
        identity, first.token, Factor("backup_code", codes[3].upper()), CLIENT
    )
    second = await accounts.login(identity, email, PASSWORD, CLIENT)
    assert isinstance(second, Challenge)
    with pytest.raises(Unauthenticated):
        await second_factor.verify_second_factor(
            identity, second.token, Factor("backup_code", codes[3]), CLIENT
        )


async def test_challenge_expires_and_wears_out(identity: Identity, clock: Clock) -> None:
    _, email, _, codes = await enabled_2fa(identity)
    challenge = await accounts.login(identity, email, PASSWORD, CLIENT)
    assert isinstance(challenge, Challenge)
    clock.advance(301)
    with pytest.raises(Unauthenticated, match="challenge"):
        await second_factor.verify_second_factor(
            identity, challenge.token, Factor("backup_code", codes[0]), CLIENT
        )

    worn = await accounts.login(identity, email, PASSWORD, CLIENT)
    assert isinstance(worn, Challenge)
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            await second_factor.verify_second_factor(
                identity, worn.token, Factor("backup_code", "aaaaa-bbbbb"), CLIENT
            )
        clock.advance(60)  # past the limiter's growing lock; the challenge's own count is what is tested
        identity.limiter.counters = type(identity.limiter.counters)()
    with pytest.raises(Unauthenticated, match="challenge"):
        await second_factor.verify_second_factor(
            identity, worn.token, Factor("backup_code", codes[0]), CLIENT
        )


async def test_disabling_needs_a_fresh_second_factor(identity: Identity, clock: Clock) -> None:
    user_id, email, secret, codes = await enabled_2fa(identity)
    with pytest.raises(InvalidArgument) as stale:
        await second_factor.disable_totp(
            identity, user_id, Factor("totp", pyotp.TOTP(secret).at(clock())), CLIENT
        )
    assert stale.value.violations[0].field == "totp_code"
    await second_factor.disable_totp(identity, user_id, Factor("backup_code", codes[1]), CLIENT)
    assert isinstance(await accounts.login(identity, email, PASSWORD, CLIENT), TokenPair)
    assert "user.totp.disabled" in audit_actions(identity, user_id)
    with pytest.raises(FailedPrecondition):
        await second_factor.disable_totp(identity, user_id, Factor("backup_code", codes[2]), CLIENT)


def test_factor_parsing_names_the_field() -> None:
    with pytest.raises(InvalidArgument) as none:
        Factor.parse(None, "")
    assert none.value.violations[0].field == "totp_code"
    with pytest.raises(InvalidArgument) as long:
        Factor.parse("backup_code", "x" * 40)
    assert long.value.violations[0].field == "backup_code"
