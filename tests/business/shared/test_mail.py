"""SmtpMailer against a real SMTP server (aiosmtpd, via SmtpSink)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from business.identity.domain.emails import (
    OutgoingEmail,
    already_registered_email,
    password_reset_email,
    verification_email,
)
from business.shared.mail import ConsoleMailer, SmtpMailer
from service_runtime.errors import DependencyUnavailable
from tests.support.smtp_sink import SmtpSink, free_port


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as running:
        yield running


def mailer_for(sink: SmtpSink) -> SmtpMailer:
    env = sink.env()
    assert env["MAIL_BACKEND"] == "smtp"
    return SmtpMailer(env["SMTP_HOST"], int(env["SMTP_PORT"]), env["SMTP_FROM"], timeout_s=5)


async def test_a_verification_email_arrives_with_its_link(sink: SmtpSink) -> None:
    link = "http://127.0.0.1:18000/verify-email?token=abc_DEF-123&x=1"
    await mailer_for(sink).send(verification_email("carol@example.com", link))
    message = sink.wait_for("carol@example.com", timeout_s=5)
    assert message["To"] == "carol@example.com"
    assert "no-reply@example.com" in message["From"]
    assert "Confirm your email" in message["Subject"]
    assert message["Message-ID"] and message["Date"]
    assert link in SmtpSink.body(message)
    assert SmtpSink.link_token(message) == "abc_DEF-123"


async def test_wait_for_hands_out_each_message_once(sink: SmtpSink) -> None:
    mailer = mailer_for(sink)
    await mailer.send(password_reset_email("dave@example.com", "http://x.test/reset?token=first"))
    await mailer.send(already_registered_email("dave@example.com", "http://x.test/reset?token=second"))
    assert SmtpSink.link_token(sink.wait_for("dave@example.com", subject_contains="reset")) == "first"
    assert SmtpSink.link_token(sink.wait_for("dave@example.com")) == "second"
    assert len(sink.sent_to("dave@example.com")) == 2
    with pytest.raises(TimeoutError):
        sink.wait_for("dave@example.com", timeout_s=0.2)


async def test_non_ascii_subject_and_body_survive(sink: SmtpSink) -> None:
    await mailer_for(sink).send(OutgoingEmail("zoe@example.com", "Bienvenue, Zoë", "Ça marche: é ü 漢字\n"))
    message = sink.wait_for("zoe@example.com", timeout_s=5)
    assert message["Subject"] == "Bienvenue, Zoë"
    assert "漢字" in SmtpSink.body(message)


def test_link_token_requires_a_link_with_a_token(sink: SmtpSink) -> None:
    from email.message import EmailMessage

    message = EmailMessage()
    message.set_content("no links here")
    with pytest.raises(AssertionError):
        SmtpSink.link_token(message)


async def test_an_unreachable_server_is_a_dependency_error() -> None:
    mailer = SmtpMailer("127.0.0.1", free_port(), "no-reply@example.com", timeout_s=2)
    with pytest.raises(DependencyUnavailable) as caught:
        await mailer.send(verification_email("erin@example.com", "http://x.test/?token=t"))
    assert caught.value.message == "mail server unavailable"


async def test_console_mailer_logs_the_link(caplog: pytest.LogCaptureFixture) -> None:
    mailer = ConsoleMailer()
    with caplog.at_level(logging.INFO, logger="business.shared.mail"):
        await mailer.send(verification_email("frank@example.com", "http://x.test/verify?token=console"))
    assert "token=console" in caplog.text and "frank@example.com" in caplog.text
    assert mailer.sent[0].to == "frank@example.com"
