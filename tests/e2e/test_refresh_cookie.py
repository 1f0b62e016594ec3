"""The browser's refresh token in an httpOnly cookie, set and read at the edge
(envoy/refresh_cookie.lua), over gRPC-Web (what the web app uses) and REST, with its CSRF rules;
curl and gRPC clients keep the token in the message."""

from __future__ import annotations

import re
from typing import TypeVar

import httpx
import pytest
from google.protobuf.message import Message

from tests.conftest import EDGE, PAGE_ORIGIN
from tests.e2e import grpc_web
from tests.e2e.accounts import PASSWORD, new_email, ok, post
from trading.identity.v1 import auth_service_pb2 as pb

AUTH = f"{EDGE}/trading.identity.v1.AuthService"
BROWSER = {"origin": PAGE_ORIGIN, "x-refresh-cookie": "1"}
pytestmark = pytest.mark.usefixtures("stack")
COOKIE = re.compile(r"^refresh=([\w.~-]*); Path=(\S+); Max-Age=(\d+); HttpOnly; SameSite=Strict$")


def _grpc_web(method: str, request: Message, headers: dict[str, str]) -> httpx.Response:
    payload = request.SerializeToString()
    return httpx.post(
        f"{AUTH}/{method}",
        content=b"\0" + len(payload).to_bytes(4, "big") + payload,
        headers={"content-type": "application/grpc-web+proto", "x-grpc-web": "1", **headers},
        timeout=30,
    )


M = TypeVar("M", bound=Message)


def _message(reply: httpx.Response, kind: type[M]) -> M | None:
    frames, _ = grpc_web.split_frames(reply.content)
    data = [payload for flag, payload in frames if not flag & 0x80]
    return kind.FromString(data[0]) if data else None


def _grpc_status(reply: httpx.Response) -> int:
    frames, _ = grpc_web.split_frames(reply.content)
    trailer = b"".join(payload for flag, payload in frames if flag & 0x80).decode()
    found = re.search(r"grpc-status:\s*(\d+)", trailer) or re.search(
        r"(\d+)", reply.headers.get("grpc-status", "")
    )
    assert found, reply.headers
    return int(found.group(1))


def _cookies(reply: httpx.Response) -> dict[str, tuple[str, int]]:
    """Set-Cookie of the refresh cookie, by path: (value, max-age)."""
    found = {}
    for header in reply.headers.get_list("set-cookie"):
        match = COOKIE.match(header)
        assert match, header
        found[match.group(2)] = (match.group(1), int(match.group(3)))
    return found


def _user() -> str:
    email = new_email()
    ok(post("/api/auth/register", {"email": email, "password": PASSWORD}))
    return email


def test_a_browser_sign_in_sets_the_cookie_and_never_shows_the_token() -> None:
    email = _user()
    reply = _grpc_web("Login", pb.LoginRequest(email=email, password=PASSWORD), BROWSER)
    login = _message(reply, pb.LoginResponse)
    assert isinstance(login, pb.LoginResponse) and login.tokens.access_token
    assert login.tokens.refresh_token == ""
    assert "x-refresh-token" not in reply.headers and "x-refresh-max-age" not in reply.headers
    assert reply.headers["access-control-allow-credentials"] == "true"
    assert reply.headers["access-control-allow-origin"] == PAGE_ORIGIN
    assert reply.headers["cache-control"] == "no-store"
    cookies = _cookies(reply)
    assert set(cookies) == {"/trading.identity.v1.AuthService/", "/api/auth/"}
    token, max_age = cookies["/api/auth/"]
    assert len(token) > 20 and max_age == login.tokens.refresh_expires_in
    assert cookies["/trading.identity.v1.AuthService/"] == (token, max_age)

    # Refresh with the cookie alone: new tokens, the cookie rotated.
    refreshed = _grpc_web("Refresh", pb.RefreshRequest(), {**BROWSER, "cookie": f"other=1; refresh={token}"})
    pair = _message(refreshed, pb.RefreshResponse)
    assert isinstance(pair, pb.RefreshResponse) and pair.tokens.session_id == login.tokens.session_id
    assert pair.tokens.refresh_token == ""
    rotated, _ = _cookies(refreshed)["/trading.identity.v1.AuthService/"]
    assert rotated != token

    # Logout with the cookie ends the session and expires the cookie.
    out = _grpc_web("Logout", pb.LogoutRequest(), {**BROWSER, "cookie": f"refresh={rotated}"})
    assert _grpc_status(out) == 0
    assert _cookies(out) == {"/trading.identity.v1.AuthService/": ("", 0), "/api/auth/": ("", 0)}
    again = _grpc_web("Refresh", pb.RefreshRequest(refresh_token=rotated), {})
    assert _grpc_status(again) == 16  # UNAUTHENTICATED: the session is over


def test_the_cookie_is_used_only_by_an_allowed_origin_that_asks_for_it() -> None:
    email = _user()
    login = _grpc_web("Login", pb.LoginRequest(email=email, password=PASSWORD), BROWSER)
    token, _ = _cookies(login)["/api/auth/"]
    cookie = {"cookie": f"refresh={token}"}
    for headers in (
        {**cookie, "origin": "https://evil.example", "x-refresh-cookie": "1"},  # another site
        {**cookie, "x-refresh-cookie": "1"},  # no Origin
        {**cookie, "origin": PAGE_ORIGIN},  # no x-refresh-cookie (a simple cross-site request can't add it)
        {"x-refresh-token": token},  # the edge's own header, from a client: dropped
    ):
        refused = _grpc_web("Refresh", pb.RefreshRequest(), headers)
        assert _grpc_status(refused) == 3, headers  # INVALID_ARGUMENT: refresh_token is required
        assert "set-cookie" not in refused.headers
    # None of them spent the token: the browser's next refresh works.
    reply = _grpc_web("Refresh", pb.RefreshRequest(), {**BROWSER, **cookie})
    assert _grpc_status(reply) == 0 and _cookies(reply)


def test_rest_routes_take_the_cookie_too_and_curl_keeps_the_token_in_the_body() -> None:
    email = _user()
    plain = ok(post("/api/auth/login", {"email": email, "password": PASSWORD}))
    assert plain["tokens"]["refreshToken"]  # no Origin: the token in the body, no cookie

    login = httpx.post(f"{EDGE}/api/auth/login", json={"email": email, "password": PASSWORD}, headers=BROWSER)
    assert login.status_code == 200 and login.json()["tokens"]["refreshToken"] == ""
    token, _ = _cookies(login)["/api/auth/"]
    refreshed = httpx.post(
        f"{EDGE}/api/auth/refresh", json={}, headers={**BROWSER, "cookie": f"refresh={token}"}
    )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["tokens"]["refreshToken"] == ""
    rotated, _ = _cookies(refreshed)["/api/auth/"]
    out = httpx.post(f"{EDGE}/api/auth/logout", json={}, headers={**BROWSER, "cookie": f"refresh={rotated}"})
    assert out.status_code == 200 and _cookies(out)["/api/auth/"] == ("", 0)
    spent = httpx.post(f"{EDGE}/api/auth/refresh", json={"refreshToken": rotated})
    assert spent.status_code == 401


def test_the_preflight_allows_the_cookie_header_with_credentials() -> None:
    reply = httpx.options(
        f"{AUTH}/Refresh",
        headers={
            "origin": PAGE_ORIGIN,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type,x-grpc-web,x-refresh-cookie",
        },
    )
    assert reply.status_code == 200
    assert reply.headers["access-control-allow-origin"] == PAGE_ORIGIN
    assert reply.headers["access-control-allow-credentials"] == "true"
    assert "x-refresh-cookie" in reply.headers["access-control-allow-headers"]
