"""TwilioSmsSender: the real twilio SDK making HTTP calls to a local Twilio-like API."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from business.identity.adapters.sms import ConsoleSmsSender, TwilioSmsSender
from service_runtime.errors import DependencyUnavailable, InvalidArgument
from tests.support.smtp_sink import free_port
from tests.support.twilio_api import TwilioApi


@pytest.fixture(scope="module")
def api() -> Iterator[TwilioApi]:
    with TwilioApi() as running:
        yield running


def sender_for(api: TwilioApi, **overrides: str) -> TwilioSmsSender:
    env = api.env() | overrides
    assert env["SMS_BACKEND"] == "twilio"
    return TwilioSmsSender(
        env["TWILIO_ACCOUNT_SID"],
        env["TWILIO_AUTH_TOKEN"],
        env["TWILIO_PHONE_NUMBER"],
        api_base_url=env["TWILIO_API_BASE_URL"],
        timeout_s=5,
    )


async def test_an_sms_reaches_the_api_with_to_from_and_body(api: TwilioApi) -> None:
    await sender_for(api).send("+14155550100", "Your sign-in code is 493817. It expires in 5 minutes.")
    [sms] = api.sent_to("+14155550100")
    assert sms.from_ == api.from_number
    assert sms.sid.startswith("SM")
    assert api.code_for("+14155550100") == "493817"


async def test_wait_for_hands_out_each_message_once(api: TwilioApi) -> None:
    sender = sender_for(api)
    await sender.send("+14155550101", "code 111111")
    await sender.send("+14155550101", "code 222222")
    assert api.code_for("+14155550101") == "111111"
    assert api.wait_for("+14155550101") == "code 222222"
    with pytest.raises(TimeoutError):
        api.wait_for("+14155550101", timeout_s=0.2)


async def test_a_wrong_auth_token_is_refused_like_twilio(api: TwilioApi) -> None:
    before = len(api.messages)
    with pytest.raises(DependencyUnavailable) as caught:
        await sender_for(api, TWILIO_AUTH_TOKEN="wrong-token").send("+14155550102", "code 333333")
    assert "401" in caught.value.message
    assert len(api.messages) == before
    assert api.rejected[-1][0] == 401


async def test_a_bad_number_is_an_invalid_argument(api: TwilioApi) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await sender_for(api).send("12345", "code 444444")
    assert caught.value.violations[0].field == "phone_number"


async def test_an_unreachable_api_is_a_dependency_error(api: TwilioApi) -> None:
    sender = sender_for(api, TWILIO_API_BASE_URL=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(DependencyUnavailable) as caught:
        await sender.send("+14155550103", "code 555555")
    assert caught.value.message == "sms provider unavailable"


async def test_console_sender_logs_the_message(caplog: pytest.LogCaptureFixture) -> None:
    sender = ConsoleSmsSender()
    with caplog.at_level(logging.INFO, logger="business.identity.adapters.sms"):
        await sender.send("+14155550104", "code 666666")
    assert "666666" in caplog.text and sender.sent == [("+14155550104", "code 666666")]
