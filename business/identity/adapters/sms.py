"""Sending SMS (the domain's `SmsSender` port): Twilio in production and tests, the log for local runs."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from service_runtime.errors import DependencyUnavailable, InvalidArgument

log = logging.getLogger(__name__)

TWILIO_API_BASE_URL = "https://api.twilio.com"
# Twilio error codes meaning "this destination number is wrong", not "Twilio is down".
_BAD_NUMBER_CODES = frozenset({21211, 21214, 21217, 21219, 21408, 21610, 21612, 21614})


class _RebasedHttpClient(TwilioHttpClient):
    """Sends the SDK's requests for https://api.twilio.com to another base URL (a test server)."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(pool_connections=False, timeout=timeout)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if self.base_url and url.startswith(TWILIO_API_BASE_URL):
            url = self.base_url + url[len(TWILIO_API_BASE_URL) :]
        return super().request(method, url, *args, **kwargs)


class TwilioSmsSender:
    """The twilio SDK (synchronous), run in a worker thread."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        api_base_url: str = "",
        timeout_s: float = 10,
    ) -> None:
        self.from_number = from_number
        self.client = Client(
            account_sid, auth_token, http_client=_RebasedHttpClient(api_base_url, timeout=timeout_s)
        )

    async def send(self, to: str, body: str) -> None:
        try:
            await asyncio.to_thread(self.client.messages.create, to=to, from_=self.from_number, body=body)
        except TwilioRestException as exc:
            log.warning("twilio refused the SMS (status %s, code %s): %s", exc.status, exc.code, exc.msg)
            if exc.status == 400 and exc.code in _BAD_NUMBER_CODES:
                raise InvalidArgument.field("phone_number", "cannot receive SMS messages") from exc
            raise DependencyUnavailable(f"sms provider refused the request (status {exc.status})") from exc
        except (TwilioException, requests.RequestException, OSError) as exc:
            log.warning("twilio unreachable: %s", exc)
            raise DependencyUnavailable("sms provider unavailable") from exc


class ConsoleSmsSender:
    """Logs each SMS so local runs can complete phone flows."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.log = logger or log
        self.sent: list[tuple[str, str]] = []

    async def send(self, to: str, body: str) -> None:
        self.sent.append((to, body))
        self.log.info("sms to %s: %s", to, body)
