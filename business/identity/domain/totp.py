"""Time-based one-time passwords (RFC 6238, HMAC-SHA1, 6 digits, 30 s) for authenticator apps.

A code is accepted for the current time step or one step either side (clock drift), and only
once: the caller stores the matched step and passes it back as `last_used_step`, so a code seen
over someone's shoulder cannot be replayed within its window.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
from urllib.parse import quote, urlencode

import segno

TOTP_DIGITS = 6
TOTP_PERIOD_S = 30
TOTP_DRIFT_STEPS = 1
_SECRET_BYTES = 20  # 160 bits, the RFC 4226 recommendation for HMAC-SHA1


def new_totp_secret() -> str:
    """A random 160-bit secret, base32 without padding (what authenticator apps expect)."""
    return base64.b32encode(secrets.token_bytes(_SECRET_BYTES)).decode("ascii").rstrip("=")


def _secret_bytes(secret: str) -> bytes:
    cleaned = secret.replace(" ", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def hotp(key: bytes, counter: int, digits: int = TOTP_DIGITS) -> str:
    """RFC 4226 HOTP value of `counter` with dynamic truncation."""
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def time_step(at: float) -> int:
    return int(at // TOTP_PERIOD_S)


def totp_code(secret: str, at: float, digits: int = TOTP_DIGITS) -> str:
    """The code for base32 `secret` at unix time `at`."""
    return hotp(_secret_bytes(secret), time_step(at), digits)


def provisioning_uri(secret: str, account_name: str, issuer: str) -> str:
    """otpauth:// URI (Google Authenticator key-uri format) with every parameter spelled out."""
    label = quote(f"{issuer}:{account_name}", safe="@:")
    query = urlencode(
        {
            "secret": secret,
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": TOTP_DIGITS,
            "period": TOTP_PERIOD_S,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"


def qr_svg(uri: str) -> str:
    """The URI as a QR code, an inline <svg> document (segno)."""
    return segno.make(uri, error="m", micro=False).svg_inline(scale=4, title="TOTP QR code")


def match_totp(secret: str, code: str, last_used_step: int | None, now: float | None = None) -> int | None:
    """The time step `code` matches (current ± TOTP_DRIFT_STEPS) if newer than `last_used_step`; else None."""
    code = code.strip().replace(" ", "")
    if len(code) != TOTP_DIGITS or not code.isascii() or not code.isdigit():
        return None
    try:
        key = _secret_bytes(secret)
    except ValueError:
        return None
    current = time_step(time.time() if now is None else now)
    drift = [d for d in range(-TOTP_DRIFT_STEPS, TOTP_DRIFT_STEPS + 1) if d != 0]
    for step in [current, *(current + d for d in drift)]:
        if last_used_step is not None and step <= last_used_step:
            continue
        if hmac.compare_digest(hotp(key, step), code):
            return step
    return None
