"""The account RPCs the web app's security page uses, through Envoy's REST mapping:
RegenerateBackupCodes with the remaining count on the account, and UnlinkOAuthProvider."""

from __future__ import annotations

import httpx

from tests.conftest import EDGE, bearer
from tests.e2e.accounts import fresh_code, me, ok, post, register_verified, tokens_of, totp_secret
from tests.support.smtp_sink import SmtpSink
from tools.supervisor import Stack

BACKUP_CODES = "/api/users/me/2fa/backup-codes"


def _remaining(access_token: str) -> int:
    user = ok(me(access_token))["user"]
    return int(user.get("backupCodesRemaining", 0))


def test_backup_codes_are_regenerated_and_counted(stack: Stack, smtp_sink: SmtpSink) -> None:
    access = tokens_of(register_verified(smtp_sink))["accessToken"]
    assert post(BACKUP_CODES, {"totpCode": "123456"}).status_code == 401  # no token
    off = post(BACKUP_CODES, {"totpCode": "123456"}, access)
    assert off.status_code == 400 and "TOTP is not on" in off.text, off.text
    assert _remaining(access) == 0

    secret = totp_secret(ok(post("/api/users/me/2fa/totp", {}, access))["otpauthUri"])
    used: set[str] = set()
    old = ok(post("/api/users/me/2fa/totp/confirm", {"code": fresh_code(secret, used)}, access))[
        "backupCodes"
    ]
    assert _remaining(access) == 10

    missing = post(BACKUP_CODES, {}, access)
    assert missing.status_code == 400 and "totp_code" in missing.text, missing.text
    new = ok(post(BACKUP_CODES, {"backupCode": old[0]}, access))["backupCodes"]
    assert len(new) == 10 and not set(new) & set(old)
    stale = post(BACKUP_CODES, {"backupCode": old[1]}, access)
    assert stale.status_code == 400 and "backup_code" in stale.text, stale.text
    assert _remaining(access) == 10


def test_unlinking_a_provider_through_the_edge(stack: Stack, smtp_sink: SmtpSink) -> None:
    access = tokens_of(register_verified(smtp_sink))["accessToken"]

    def unlink(provider: str, token: str = access) -> httpx.Response:
        headers = bearer(token) if token else {}
        return httpx.delete(f"{EDGE}/api/users/me/oauth/{provider}", headers=headers, timeout=30)

    assert unlink("github", "").status_code == 401
    unknown = unlink("myspace")
    assert unknown.status_code == 400 and "provider" in unknown.text, unknown.text
    assert unlink("github").status_code == 404  # not linked to this account
