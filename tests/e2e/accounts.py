"""A REST client of the identity routes through Envoy, shared by the end-to-end tests:
register (with the emailed verification link), sign in, read the account, TOTP codes."""

from __future__ import annotations

import time
import urllib.parse
import uuid
from typing import Any

import httpx
import jwt
import pyotp

from service_runtime.signing_keys import SigningKeyStore
from tests.conftest import EDGE, bearer
from tests.support.smtp_sink import SmtpSink

PASSWORD = "correct horse battery staple 42"


def new_email() -> str:
    return f"e2e-{uuid.uuid4().hex[:10]}@example.com"


def post(path: str, body: dict[str, Any], token: str = "") -> httpx.Response:
    return httpx.post(f"{EDGE}{path}", json=body, headers=bearer(token) if token else {}, timeout=30)


def ok(reply: httpx.Response) -> dict[str, Any]:
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def register_verified(smtp_sink: SmtpSink, email: str = "", password: str = PASSWORD) -> str:
    email = email or new_email()
    ok(post("/api/auth/register", {"email": email, "password": password, "displayName": "E2E"}))
    message = smtp_sink.wait_for(email, subject_contains="confirm")
    ok(post("/api/auth/email/verify", {"token": SmtpSink.link_token(message), "password": password}))
    return email


def login(email: str, password: str = PASSWORD) -> dict[str, Any]:
    return ok(post("/api/auth/login", {"email": email, "password": password}))


def tokens_of(email: str, password: str = PASSWORD) -> dict[str, Any]:
    tokens: dict[str, Any] = login(email, password)["tokens"]
    return tokens


def me(access_token: str) -> httpx.Response:
    return httpx.get(f"{EDGE}/api/users/me", headers=bearer(access_token), timeout=30)


def totp_secret(uri: str) -> str:
    return urllib.parse.parse_qs(urllib.parse.urlparse(uri).query)["secret"][0]


def fresh_code(secret: str, used: set[str]) -> str:
    """A TOTP code not accepted before (a code works once: wait for the next step if needed)."""
    while True:
        code = pyotp.TOTP(secret).now()
        if code not in used:
            used.add(code)
            return code
        time.sleep(1)


def as_plan(keys: SigningKeyStore, access_token: str, plan: str) -> str:
    """The same access token (subject, session, id, expiry) with another plan, signed with the
    stack's key: what the user's next token says once billing or an admin changed their plan,
    for tests about something else that a plan would refuse (the stream, every horizon)."""
    claims = jwt.decode(access_token, options={"verify_signature": False})
    return keys.sign({**claims, "plan": plan})
