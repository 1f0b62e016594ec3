"""Random tokens, codes and their digests."""

from __future__ import annotations

import base64
import hashlib
import math
import re

from business.identity.domain.one_time_secrets import (
    backup_code_digest,
    code_digest,
    digest,
    new_backup_codes,
    new_numeric_code,
    new_opaque_token,
)


def test_opaque_tokens_are_32_random_urlsafe_bytes() -> None:
    tokens = {new_opaque_token() for _ in range(100)}
    assert len(tokens) == 100
    for token in tokens:
        assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
        assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) == 32


def test_digest_is_sha256_hex() -> None:
    assert digest("abc") == hashlib.sha256(b"abc").hexdigest()
    assert digest("abc") != digest("abd")


def test_numeric_codes_have_the_requested_digits() -> None:
    codes = [new_numeric_code() for _ in range(200)]
    assert all(re.fullmatch(r"\d{6}", c) for c in codes)
    assert len(set(codes)) > 150
    assert re.fullmatch(r"\d{8}", new_numeric_code(8))


def test_code_digest_depends_on_salt_and_code() -> None:
    assert code_digest("123456", "s1") == hashlib.sha256(b"s1123456").hexdigest()
    assert code_digest("123456", "s1") != code_digest("123456", "s2")
    assert code_digest("123456", "s1") != code_digest("123457", "s1")


def test_backup_codes_are_distinct_and_strong() -> None:
    codes = new_backup_codes()
    assert len(codes) == 10 and len(set(codes)) == 10
    for code in codes:
        assert re.fullmatch(r"[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}", code)
        assert 10 * math.log2(32) >= 40
    assert len(new_backup_codes(3)) == 3


def test_backup_code_digest_normalises_what_people_type() -> None:
    code = "k7p2x-9xqmd"
    expected = backup_code_digest(code)
    assert expected == hashlib.sha256(b"k7p2x9xqmd").hexdigest()
    assert backup_code_digest("K7P2X 9XQMD") == expected
    assert backup_code_digest(" k7p2x9xqmd ") == expected
    assert backup_code_digest("k7p2x-9xqme") != expected
    assert backup_code_digest("a0b1c-11111") == backup_code_digest("aObIc-lilIL")  # confusables
