"""A local HTTP server speaking Twilio's Messages API, for the real twilio SDK to call.

Implements `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`: HTTP basic auth with the
account SID and auth token (a wrong pair gets Twilio's 401, error 20003), form fields To, From
and Body, a 201 with a Message resource. Like SmtpSink.wait_for, wait_for() hands out each
message once, oldest first.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from tests.support.stand_in import HttpStandIn

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "test-auth-token-" + "f" * 16
FROM_NUMBER = "+15005550006"
_MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC[0-9a-fA-F]{32})/Messages\.json$")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


@dataclass(frozen=True)
class SentSms:
    sid: str
    to: str
    from_: str
    body: str


class TwilioApi(HttpStandIn):
    thread_name = "twilio-api"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
    ) -> None:
        super().__init__(host, port)
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.from_number = FROM_NUMBER
        self.messages: list[SentSms] = []
        self.rejected: list[tuple[int, str]] = []  # (status, path) of refused requests
        self._taken: set[int] = set()
        self._changed = threading.Condition()

    def request_handler(self) -> type[BaseHTTPRequestHandler]:
        return _TwilioHandler

    def env(self) -> dict[str, str]:
        return {
            "SMS_BACKEND": "twilio",
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_PHONE_NUMBER": self.from_number,
            "TWILIO_API_BASE_URL": self.base_url,
        }

    def record(self, sms: SentSms) -> None:
        with self._changed:
            self.messages.append(sms)
            self._changed.notify_all()

    def sent_to(self, to: str) -> list[SentSms]:
        with self._changed:
            return [m for m in self.messages if m.to == to]

    def wait_for(self, to: str, timeout_s: float = 10) -> str:
        """The body of the oldest SMS to `to` not handed out before."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                for index, sms in enumerate(self.messages):
                    if index not in self._taken and sms.to == to:
                        self._taken.add(index)
                        return sms.body
                left = deadline - time.monotonic()
                if left <= 0:
                    sent = [m.to for m in self.messages]
                    raise TimeoutError(f"no new SMS to {to} within {timeout_s} s; sent to {sent}")
                self._changed.wait(left)

    def code_for(self, to: str, timeout_s: float = 10) -> str:
        """The 6-digit code in the next SMS to `to` (see wait_for)."""
        body = self.wait_for(to, timeout_s)
        found = _CODE.search(body)
        if found is None:
            raise AssertionError(f"no 6-digit code in the SMS: {body!r}")
        return found.group(1)


class _TwilioHandler(BaseHTTPRequestHandler):
    owner: TwilioApi

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        matched = _MESSAGES_PATH.match(path)
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode("utf-8")).items()}
        if matched is None:
            self._error(404, 20404, "The requested resource was not found")
            return
        if not self._authorised(matched["sid"]):
            self._error(401, 20003, "Authenticate")
            return
        to, sender, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        if not _E164.match(to):
            self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
            return
        if not body:
            self._error(400, 21602, "Message body is required.")
            return
        sms = SentSms(sid="SM" + secrets.token_hex(16), to=to, from_=sender, body=body)
        self.owner.record(sms)
        self._json(201, self._resource(sms, matched["sid"]))

    def do_GET(self) -> None:
        self._error(405, 20004, "Method not allowed")

    def _authorised(self, sid: str) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except ValueError:
            return False
        owner = self.owner
        return (
            secrets.compare_digest(user, owner.account_sid)
            and secrets.compare_digest(password, owner.auth_token)
            and sid == owner.account_sid
        )

    def _error(self, status: int, code: int, message: str) -> None:
        self.owner.rejected.append((status, self.path))
        self._json(
            status,
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
        )

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    @staticmethod
    def _resource(sms: SentSms, account_sid: str) -> dict[str, Any]:
        now = format_datetime(datetime.now(UTC), usegmt=True)
        return {
            "account_sid": account_sid,
            "api_version": "2010-04-01",
            "body": sms.body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sms.from_,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sms.sid,
            "status": "queued",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{account_sid}/Messages/{sms.sid}/Media.json"
            },
            "to": sms.to,
            "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sms.sid}.json",
        }
