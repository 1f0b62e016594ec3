"""Sending email (the features' `Mailer` ports): SMTP in production and tests, the log for local runs."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from business.config import BusinessSettings
from business.shared.emails import OutgoingEmail
from service_runtime.errors import DependencyUnavailable

log = logging.getLogger(__name__)


class SmtpMailer:
    """stdlib smtplib, run in a worker thread so the event loop never waits on the mail server."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        username: str = "",
        password: str = "",
        starttls: bool = False,
        timeout_s: float = 10,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout_s = timeout_s

    def build_message(self, email: OutgoingEmail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = email.to
        message["Subject"] = email.subject
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(domain=parseaddr(self.sender)[1].partition("@")[2] or None)
        message.set_content(email.text)
        return message

    async def send(self, email: OutgoingEmail) -> None:
        message = self.build_message(email)
        try:
            await asyncio.to_thread(self._send_blocking, message)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("mail to the SMTP server %s:%s failed: %s", self.host, self.port, exc)
            raise DependencyUnavailable("mail server unavailable") from exc

    def _send_blocking(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(message)


class ConsoleMailer:
    """Logs each email, links included, so local runs can follow verification and reset flows."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.log = logger or log
        self.sent: list[OutgoingEmail] = []

    async def send(self, email: OutgoingEmail) -> None:
        self.sent.append(email)
        self.log.info("email to %s: %s\n%s", email.to, email.subject, email.text)


def mailer(settings: BusinessSettings) -> SmtpMailer | ConsoleMailer:
    """The mailer MAIL_BACKEND names, for every feature that sends email."""
    if settings.mail_backend == "smtp":
        return SmtpMailer(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_from,
            settings.smtp_username,
            settings.smtp_password,
            settings.smtp_starttls,
        )
    return ConsoleMailer()
