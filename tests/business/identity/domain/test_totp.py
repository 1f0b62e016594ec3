"""TOTP against RFC 6238 Appendix B and pyotp; replay and drift rules."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest
import segno

from business.identity.domain.totp import (
    TOTP_DIGITS,
    TOTP_PERIOD_S,
    match_totp,
    new_totp_secret,
    provisioning_uri,
    qr_svg,
    totp_code,
)

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
# RFC 6238 Appendix B, SHA1 column.
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


@pytest.mark.parametrize(("at", "expected"), RFC_VECTORS)
def test_rfc6238_vectors_match_and_agree_with_pyotp(at: int, expected: str) -> None:
    assert totp_code(RFC_SECRET, at, digits=8) == expected
    assert pyotp.TOTP(RFC_SECRET, digits=8, interval=30).at(at) == expected


def test_six_digit_codes_agree_with_pyotp() -> None:
    secret = new_totp_secret()
    reference = pyotp.TOTP(secret)
    for at in (0, 59, 1_700_000_000, 1_700_000_029, 1_700_000_030):
        assert totp_code(secret, at) == reference.at(at)


def test_new_secret_is_160_bits_of_base32() -> None:
    secret = new_totp_secret()
    assert len(base64.b32decode(secret + "=" * (-len(secret) % 8))) == 20
    assert secret != new_totp_secret()


NOW = 1_700_000_015.0  # inside step 56_666_667


def code_at_offset(secret: str, steps: int) -> str:
    return pyotp.TOTP(secret).at(NOW + steps * TOTP_PERIOD_S)


def test_accepts_the_current_step_and_one_either_side() -> None:
    secret = new_totp_secret()
    current = int(NOW // TOTP_PERIOD_S)
    for offset in (-1, 0, 1):
        assert match_totp(secret, code_at_offset(secret, offset), None, now=NOW) == current + offset


def test_rejects_two_steps_away() -> None:
    secret = new_totp_secret()
    for offset in (-2, 2):
        code = code_at_offset(secret, offset)
        if any(code == code_at_offset(secret, near) for near in (-1, 0, 1)):
            pytest.skip("random collision between steps")
        assert match_totp(secret, code, None, now=NOW) is None


def test_a_code_is_accepted_once_only() -> None:
    secret = new_totp_secret()
    code = code_at_offset(secret, 0)
    step = match_totp(secret, code, None, now=NOW)
    assert step is not None
    assert match_totp(secret, code, step, now=NOW) is None  # replay of the same code
    assert match_totp(secret, code_at_offset(secret, -1), step, now=NOW) is None  # an older one
    assert match_totp(secret, code_at_offset(secret, 1), step, now=NOW) == step + 1  # a newer one is fine


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "12a456", "１２３４５６", "-12345"])
def test_rejects_malformed_codes(bad: str) -> None:
    secret = new_totp_secret()
    assert match_totp(secret, bad, None, now=NOW) is None


def test_tolerates_spaces_inside_a_code() -> None:
    secret = new_totp_secret()
    code = code_at_offset(secret, 0)
    assert match_totp(secret, f" {code[:3]} {code[3:]} ", None, now=NOW) is not None


def test_provisioning_uri_spells_out_the_parameters() -> None:
    uri = provisioning_uri(RFC_SECRET, "alice@example.com", "Trading Platform")
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth" and parts.netloc == "totp"
    assert unquote(parts.path) == "/Trading Platform:alice@example.com"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {
        "secret": RFC_SECRET,
        "issuer": "Trading Platform",
        "algorithm": "SHA1",
        "digits": str(TOTP_DIGITS),
        "period": "30",
    }
    parsed = pyotp.parse_uri(uri)
    assert (
        isinstance(parsed, pyotp.TOTP)
        and parsed.issuer == "Trading Platform"
        and parsed.name == "alice@example.com"
    )


def test_qr_svg_is_segnos_svg_of_the_uri() -> None:
    uri = provisioning_uri(new_totp_secret(), "alice@example.com", "Trading Platform")
    svg = qr_svg(uri)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert 'class="segno"' in svg
    assert svg == segno.make(uri, error="m", micro=False).svg_inline(scale=4, title="TOTP QR code")
