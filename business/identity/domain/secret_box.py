"""Symmetric encryption of secrets at rest (TOTP secrets) with Fernet (AES-128-CBC + HMAC-SHA256).

The key may be a comma-separated list: the first key encrypts, every key decrypts, so keys can
be rotated without re-encrypting everything at once.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretBox:
    def __init__(self, key: str) -> None:
        keys = [k.strip() for k in key.split(",") if k.strip()]
        if not keys:
            raise ValueError("SecretBox needs a Fernet key")
        try:
            self._fernet = MultiFernet([Fernet(k.encode("ascii")) for k in keys])
        except (ValueError, UnicodeEncodeError) as exc:
            raise ValueError("invalid Fernet key (32 urlsafe-base64-encoded bytes)") from exc

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode("ascii")

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """The plaintext; ValueError when the token is corrupt or made with another key."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise ValueError("cannot decrypt: wrong key or corrupt data") from exc
