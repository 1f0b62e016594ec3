"""Identity through Envoy (REST and gRPC-Web): the issue's "done" flow and every account flow,
against the real stack with a real SMTP server and a Twilio-speaking API."""

from __future__ import annotations

import random

import httpx
import pytest

from business.identity.admin_cli import create_admin
from tests.conftest import EDGE, bearer
from tests.e2e import grpc_web
from tests.e2e.accounts import (
    PASSWORD,
    fresh_code,
    login,
    me,
    new_email,
    ok,
    post,
    register_verified,
    tokens_of,
    totp_secret,
)
from tests.support.smtp_sink import SmtpSink
from tests.support.twilio_api import TwilioApi
from tools.supervisor import Stack
from trading.identity.v1 import auth_service_pb2


def test_register_2fa_login_refresh_reuse_logout(stack: Stack, smtp_sink: SmtpSink) -> None:
    email = register_verified(smtp_sink)
    first = tokens_of(email)
    assert first["tokenType"] == "Bearer" and first["expiresIn"] == 900
    profile = ok(me(first["accessToken"]))["user"]
    assert profile["email"] == email and profile["emailVerified"] is True and profile["role"] == "ROLE_USER"

    enrollment = ok(post("/api/users/me/2fa/totp", {}, first["accessToken"]))
    assert enrollment["otpauthUri"].startswith("otpauth://totp/") and "<svg" in enrollment["qrSvg"]
    secret = totp_secret(enrollment["otpauthUri"])
    used: set[str] = set()
    confirmed = ok(
        post("/api/users/me/2fa/totp/confirm", {"code": fresh_code(secret, used)}, first["accessToken"])
    )
    assert len(confirmed["backupCodes"]) == 10

    challenge = login(email)["challenge"]
    assert "tokens" not in login(email) and set(challenge["methods"]) == {"totp", "backup_code"}
    verified = ok(
        post(
            "/api/auth/2fa/verify",
            {"challengeToken": challenge["challengeToken"], "totpCode": fresh_code(secret, used)},
        )
    )
    pair = verified["tokens"]
    refreshed = ok(post("/api/auth/refresh", {"refreshToken": pair["refreshToken"]}))["tokens"]
    assert refreshed["sessionId"] == pair["sessionId"] and refreshed["refreshToken"] != pair["refreshToken"]
    assert me(refreshed["accessToken"]).status_code == 200

    # A second tab presenting the same token moments later gets the same new token (grace window).
    again = ok(post("/api/auth/refresh", {"refreshToken": pair["refreshToken"]}))["tokens"]
    assert again["refreshToken"] == refreshed["refreshToken"]
    newest = ok(post("/api/auth/refresh", {"refreshToken": refreshed["refreshToken"]}))["tokens"]
    # The first token is no longer the newest one's predecessor: presenting it is reuse.
    reuse = post("/api/auth/refresh", {"refreshToken": pair["refreshToken"]})
    assert reuse.status_code == 401, reuse.text
    assert post("/api/auth/refresh", {"refreshToken": newest["refreshToken"]}).status_code == 401
    assert me(newest["accessToken"]).status_code == 401, "the family's access tokens die with it"

    backup = ok(
        post(
            "/api/auth/2fa/verify",
            {
                "challengeToken": login(email)["challenge"]["challengeToken"],
                "backupCode": confirmed["backupCodes"][0],
            },
        )
    )["tokens"]
    ok(post("/api/auth/logout", {"refreshToken": backup["refreshToken"]}))
    assert post("/api/auth/refresh", {"refreshToken": backup["refreshToken"]}).status_code == 401
    assert me(backup["accessToken"]).status_code == 401


def test_profile_sessions_and_password_change(stack: Stack, smtp_sink: SmtpSink) -> None:
    email = register_verified(smtp_sink)
    one, two = tokens_of(email), tokens_of(email)
    patched = httpx.patch(
        f"{EDGE}/api/users/me",
        json={"displayName": "New Name"},
        headers=bearer(one["accessToken"]),
        timeout=30,
    )
    assert ok(patched)["user"]["displayName"] == "New Name"

    listed = ok(httpx.get(f"{EDGE}/api/users/me/sessions", headers=bearer(one["accessToken"]), timeout=30))
    ids = [s["id"] for s in listed["sessions"]]
    assert ids[:2] == [two["sessionId"], one["sessionId"]]
    assert [s["current"] for s in listed["sessions"][:2]] == [False, True]
    revoked = httpx.delete(
        f"{EDGE}/api/users/me/sessions/{two['sessionId']}", headers=bearer(one["accessToken"]), timeout=30
    )
    ok(revoked)
    assert me(two["accessToken"]).status_code == 401
    stranger = tokens_of(register_verified(smtp_sink))
    foreign = httpx.delete(
        f"{EDGE}/api/users/me/sessions/{one['sessionId']}",
        headers=bearer(stranger["accessToken"]),
        timeout=30,
    )
    assert foreign.status_code == 404

    three = tokens_of(email)
    changed = post(
        "/api/users/me/password",
        {"currentPassword": PASSWORD, "newPassword": "brand new passphrase 88"},
        one["accessToken"],
    )
    ok(changed)
    assert me(one["accessToken"]).status_code == 200, "the caller's own session stays"
    assert me(three["accessToken"]).status_code == 401, "other sessions end"
    assert post("/api/auth/login", {"email": email, "password": PASSWORD}).status_code == 401
    assert "tokens" in login(email, "brand new passphrase 88")


def test_forgot_and_reset_password(stack: Stack, smtp_sink: SmtpSink) -> None:
    email = register_verified(smtp_sink)
    session = tokens_of(email)
    unknown = ok(post("/api/auth/password/forgot", {"email": new_email()}))
    known = ok(post("/api/auth/password/forgot", {"email": email}))
    assert unknown == known
    token = SmtpSink.link_token(smtp_sink.wait_for(email, subject_contains="reset"))
    ok(post("/api/auth/password/reset", {"token": token, "newPassword": "reset passphrase 321"}))
    assert (
        post("/api/auth/password/reset", {"token": token, "newPassword": "other passphrase 654"}).status_code
        == 400
    )
    assert me(session["accessToken"]).status_code == 401
    assert post("/api/auth/refresh", {"refreshToken": session["refreshToken"]}).status_code == 401
    assert "tokens" in login(email, "reset passphrase 321")


def test_phone_login(stack: Stack, smtp_sink: SmtpSink, twilio_api: TwilioApi) -> None:
    email = register_verified(smtp_sink)
    pair = tokens_of(email)
    phone = f"+1415{random.randrange(10**6, 10**7)}"
    patched = httpx.patch(
        f"{EDGE}/api/users/me", json={"phoneNumber": phone}, headers=bearer(pair["accessToken"]), timeout=30
    )
    assert ok(patched)["user"]["phoneNumber"] == phone
    assert ok(post("/api/auth/phone/start", {"phoneNumber": phone}))["expiresIn"] == 300
    assert ok(post("/api/auth/phone/start", {"phoneNumber": "+14155550000"}))["expiresIn"] == 300
    code = twilio_api.code_for(phone)
    signed_in = ok(post("/api/auth/phone/verify", {"phoneNumber": phone, "code": code}))
    profile = ok(me(signed_in["tokens"]["accessToken"]))["user"]
    assert profile["email"] == email and profile["phoneVerified"] is True
    assert post("/api/auth/phone/verify", {"phoneNumber": phone, "code": code}).status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "weak@example.com", "password": "password1234"}, "password"),
        ({"email": "long@example.com", "password": PASSWORD, "displayName": "x" * 81}, "display_name"),
    ],
)
def test_bad_registration_is_400_naming_the_field(stack: Stack, body: dict[str, str], field: str) -> None:
    reply = post("/api/auth/register", body)
    assert reply.status_code == 400, reply.text
    assert field in reply.text and "Traceback" not in reply.text


def test_login_over_grpc_web(stack: Stack, smtp_sink: SmtpSink) -> None:
    email = register_verified(smtp_sink)
    reply = grpc_web.call(
        f"{EDGE}/trading.identity.v1.AuthService/Login",
        auth_service_pb2.LoginRequest(email=email, password=PASSWORD),
    )
    assert reply.grpc_status == 0, reply.grpc_message
    response = auth_service_pb2.LoginResponse.FromString(reply.messages[0])
    assert response.WhichOneof("result") == "tokens" and response.tokens.access_token
    wrong = grpc_web.call(
        f"{EDGE}/trading.identity.v1.AuthService/Login",
        auth_service_pb2.LoginRequest(email=email, password="wrong password entirely"),
    )
    assert wrong.grpc_status == 16  # UNAUTHENTICATED


def test_admin_users_roles_suspension_and_audit(stack: Stack, smtp_sink: SmtpSink) -> None:
    admin_email = new_email()
    admin_id, created = create_admin(stack.env["DATABASE_URL"], admin_email, "admin passphrase 2468", "Root")
    assert created
    boss = tokens_of(admin_email, "admin passphrase 2468")["accessToken"]
    user_email = register_verified(smtp_sink)
    victim = tokens_of(user_email)

    assert (
        httpx.get(f"{EDGE}/api/admin/users", headers=bearer(victim["accessToken"]), timeout=30).status_code
        == 403
    )
    found = ok(
        httpx.get(
            f"{EDGE}/api/admin/users",
            params={"query": user_email, "pageSize": 5},
            headers=bearer(boss),
            timeout=30,
        )
    )["users"]
    assert [u["email"] for u in found] == [user_email]
    user_id = found[0]["id"]
    bad_size = httpx.get(
        f"{EDGE}/api/admin/users", params={"pageSize": 500}, headers=bearer(boss), timeout=30
    )
    assert bad_size.status_code == 400 and "page_size" in bad_size.text

    promoted = ok(post(f"/api/admin/users/{user_id}/role", {"role": "ROLE_ADMIN"}, boss))["user"]
    assert promoted["role"] == "ROLE_ADMIN"
    ok(post(f"/api/admin/users/{user_id}/role", {"role": "ROLE_USER"}, boss))
    suspended = ok(post(f"/api/admin/users/{user_id}/suspend", {"suspended": True, "reason": "e2e"}, boss))[
        "user"
    ]
    assert suspended["status"] == "USER_STATUS_SUSPENDED"
    assert me(victim["accessToken"]).status_code == 401, "a suspended user's token is rejected"
    assert post("/api/auth/login", {"email": user_email, "password": PASSWORD}).status_code == 401
    assert post("/api/auth/refresh", {"refreshToken": victim["refreshToken"]}).status_code == 401

    # Leave this admin the only active one, then try to demote it.
    others = ok(
        httpx.get(
            f"{EDGE}/api/admin/users",
            params={"role": "ROLE_ADMIN", "status": "USER_STATUS_ACTIVE", "pageSize": 200},
            headers=bearer(boss),
            timeout=30,
        )
    )
    for other in others["users"]:
        if other["id"] != admin_id:
            ok(post(f"/api/admin/users/{other['id']}/role", {"role": "ROLE_USER"}, boss))
    last = post(f"/api/admin/users/{admin_id}/role", {"role": "ROLE_USER"}, boss)
    assert last.status_code == 400 and "at least one active admin" in last.text

    events = ok(
        httpx.get(
            f"{EDGE}/api/admin/audit-events",
            params={"subjectId": user_id, "action": "admin.*"},
            headers=bearer(boss),
            timeout=30,
        )
    )["events"]
    actions = [e["action"] for e in events]
    assert actions == ["admin.user.suspended", "admin.user.role_changed", "admin.user.role_changed"]
    assert events[0]["actorId"] == admin_id and events[0]["after"]["status"] == "suspended"
    assert events[0]["requestId"] and events[0]["ip"]
    logins = ok(
        httpx.get(
            f"{EDGE}/api/admin/audit-events",
            params={"subjectId": user_id, "action": "auth.login.failed"},
            headers=bearer(boss),
            timeout=30,
        )
    )["events"]
    assert logins and logins[0]["detail"]["reason"] == "suspended"
    history = ok(
        httpx.get(
            f"{EDGE}/api/admin/audit-events",
            params={"subjectId": user_id, "pageSize": 2},
            headers=bearer(boss),
            timeout=30,
        )
    )
    assert len(history["events"]) == 2 and history["nextPageToken"]
