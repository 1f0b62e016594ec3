"""Random tokens and codes, and the digests the database keeps instead of them.

Opaque tokens carry 256 bits, so a plain sha256 is enough: no one can guess one, and a leaked
table of digests gives nothing to replay. Short codes (6 digits) are salted and, more
importantly, protected by attempt limits and short expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken

# Crockford-style base32 in lower case: no i, l, o, u, so "o"/"i"/"l" typed by a user map back.
_BACKUP_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_BACKUP_GROUP = 5  # two groups of 5 characters: 50 bits per code
_CONFUSABLE = str.maketrans({"o": "0", "i": "1", "l": "1"})


def new_opaque_token() -> str:
    """32 random bytes, urlsafe base64 (refresh tokens, email links, login challenges)."""
    return secrets.token_urlsafe(32)


def digest(value: str) -> str:
    """sha256 hex of an opaque token: what the database stores."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _holder_key(holder_token: str) -> Fernet:
    # HMAC, not the stored sha256: the database's digest of the token does not give the key.
    raw = hmac.new(holder_token.encode("utf-8"), b"trading-platform/refresh-successor/v1", hashlib.sha256)
    return Fernet(base64.urlsafe_b64encode(raw.digest()))


def seal_for_holder(holder_token: str, secret: str) -> str:
    """`secret` encrypted (Fernet) under a key derived from `holder_token`: only whoever presents
    that token can open it, and the database, which keeps the token's digest only, cannot."""
    return _holder_key(holder_token).encrypt(secret.encode("utf-8")).decode("ascii")


def open_for_holder(holder_token: str, sealed: str) -> str | None:
    """What `seal_for_holder` sealed, or None when `holder_token` is not the one it was sealed for."""
    try:
        return _holder_key(holder_token).decrypt(sealed.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError):
        return None


def new_numeric_code(digits: int = 6) -> str:
    return str(secrets.randbelow(10**digits)).zfill(digits)


def new_salt() -> str:
    return secrets.token_hex(16)


def code_digest(code: str, salt: str) -> str:
    """sha256(salt + code), for short codes sent by SMS."""
    return hashlib.sha256((salt + code.strip()).encode("utf-8")).hexdigest()


def new_backup_codes(count: int = 10) -> list[str]:
    """Single-use recovery codes like "k7p2x-9xqmd" (50 bits each)."""

    def one() -> str:
        chars = "".join(secrets.choice(_BACKUP_ALPHABET) for _ in range(2 * _BACKUP_GROUP))
        return f"{chars[:_BACKUP_GROUP]}-{chars[_BACKUP_GROUP:]}"

    return [one() for _ in range(count)]


def normalize_backup_code(code: str) -> str:
    """Lower case, without spaces or dashes, confusable letters mapped to digits."""
    return "".join(code.lower().split()).replace("-", "").translate(_CONFUSABLE)


def backup_code_digest(code: str) -> str:
    return hashlib.sha256(normalize_backup_code(code).encode("utf-8")).hexdigest()
