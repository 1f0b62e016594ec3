"""A real SMTP server (aiosmtpd) in a thread that keeps every message it receives.

wait_for() hands out each message once, oldest first, so a test that triggers a second email
to the same address gets the new one, not the one an earlier step already read.
"""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
import time
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller

SENDER = "Trading Platform <no-reply@example.com>"
_LINK = re.compile(r"https?://[^\s<>\"']+")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        raw = content if isinstance(content, bytes) else content.encode("utf-8")
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.sink.add(message, [str(r).lower() for r in envelope.rcpt_tos])
        return "250 Message accepted for delivery"


class SmtpSink:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.messages: list[EmailMessage] = []
        self._recipients: list[list[str]] = []
        self._taken: set[int] = set()
        self._changed = threading.Condition()
        self._controller: Controller | None = None

    def start(self) -> SmtpSink:
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        return {
            "MAIL_BACKEND": "smtp",
            "SMTP_HOST": self.host,
            "SMTP_PORT": str(self.port),
            "SMTP_FROM": SENDER,
        }

    def add(self, message: EmailMessage, recipients: list[str]) -> None:
        with self._changed:
            self.messages.append(message)
            self._recipients.append(recipients)
            self._changed.notify_all()

    def clear(self) -> None:
        with self._changed:
            self.messages.clear()
            self._recipients.clear()
            self._taken.clear()

    def sent_to(self, to: str) -> list[EmailMessage]:
        """Every message to `to` so far (does not mark them as read)."""
        with self._changed:
            return [m for i, m in enumerate(self.messages) if self._matches(i, to.lower(), "")]

    def wait_for(self, to: str, timeout_s: float = 10, subject_contains: str = "") -> EmailMessage:
        """The oldest message to `to` (and with `subject_contains`) not handed out before."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                for index in range(len(self.messages)):
                    if index not in self._taken and self._matches(index, to.lower(), subject_contains):
                        self._taken.add(index)
                        return self.messages[index]
                left = deadline - time.monotonic()
                if left <= 0:
                    subjects = [str(m["Subject"]) for m in self.messages]
                    raise TimeoutError(f"no new email to {to!r} within {timeout_s} s; received: {subjects}")
                self._changed.wait(left)

    def _matches(self, index: int, to: str, subject_contains: str) -> bool:
        message = self.messages[index]
        header_to = str(message.get("To", "")).lower()
        addressed = to in self._recipients[index] or to in header_to
        return addressed and subject_contains.lower() in str(message.get("Subject", "")).lower()

    @staticmethod
    def body(message: EmailMessage) -> str:
        part = message.get_body(preferencelist=("plain", "html"))
        return str(part.get_content()) if part is not None else str(message.get_payload())

    @classmethod
    def links(cls, message: EmailMessage) -> list[str]:
        return _LINK.findall(cls.body(message))

    @classmethod
    def link_token(cls, message: EmailMessage) -> str:
        """The `token=` query value of the first link in the body."""
        links = cls.links(message)
        if not links:
            raise AssertionError(f"no link in the email: {cls.body(message)!r}")
        values = parse_qs(urlsplit(links[0]).query).get("token")
        if not values:
            raise AssertionError(f"the first link has no token= parameter: {links[0]}")
        return values[0]
