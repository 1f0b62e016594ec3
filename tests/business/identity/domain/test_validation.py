"""Normalisation of identity fields; errors name the field."""

from __future__ import annotations

import pytest

from business.identity.domain.validation import (
    clean_display_name,
    normalize_email,
    normalize_phone,
    require_text,
)
from service_runtime.errors import InvalidArgument


def field_of(call: object) -> str:
    assert callable(call)
    with pytest.raises(InvalidArgument) as caught:
        call()
    return caught.value.violations[0].field


def test_email_is_lower_cased_and_stripped() -> None:
    assert normalize_email("  Alice.Smith@Example.COM ") == "alice.smith@example.com"
    assert normalize_email("bob+tag@sub.example.org") == "bob+tag@sub.example.org"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "alice",
        "alice@",
        "@example.com",
        "a b@example.com",
        "alice@@example.com",
        "alice@localhost",
    ],
)
def test_bad_emails_name_the_field(bad: str) -> None:
    assert field_of(lambda: normalize_email(bad)) == "email"
    assert field_of(lambda: normalize_email(bad, field="new_email")) == "new_email"


def test_overlong_email_is_refused() -> None:
    long_email = "a" * 60 + "@" + ".".join(["b" * 60] * 4) + ".com"
    with pytest.raises(InvalidArgument) as caught:
        normalize_email(long_email)
    assert caught.value.violations[0].field == "email"


def test_phone_is_normalised_to_e164() -> None:
    assert normalize_phone("+1 (415) 555-0123") == "+14155550123"
    assert normalize_phone(" +44 20 7946 0958 ") == "+442079460958"


@pytest.mark.parametrize(
    "bad", ["", "4155550123", "+0155550123", "+1 415", "+1415555012345678", "+1415abc0123"]
)
def test_bad_phones_name_the_field(bad: str) -> None:
    assert field_of(lambda: normalize_phone(bad)) == "phone_number"


@pytest.mark.parametrize(
    "digits",
    [
        "\u0664\u0661\u0665\u0665\u0665\u0665\u0660\u0661\u0662\u0663",  # Arabic-Indic digits
        "\uff14\uff11\uff15\uff15\uff15\uff15\uff10\uff11\uff12\uff13",  # fullwidth digits
        "415555\u0966\u0967\u0968\u0969",  # ending in Devanagari digits
    ],
)
def test_phones_take_ascii_digits_only(digits: str) -> None:
    """E.164 as the published rule says ([0-9], gateway/field_rules.py): other scripts' digits,
    which `\\d` would take, would store a second spelling of one number."""
    assert field_of(lambda: normalize_phone("+1" + digits)) == "phone_number"


def test_display_name() -> None:
    assert clean_display_name("  Zoë Ångström ") == "Zoë Ångström"
    assert clean_display_name("") == ""
    assert clean_display_name("x" * 80) == "x" * 80
    assert field_of(lambda: clean_display_name("x" * 81)) == "display_name"
    assert field_of(lambda: clean_display_name("evil\x00name")) == "display_name"
    assert field_of(lambda: clean_display_name("abc\u202edcba", field="name")) == "name"


def test_require_text() -> None:
    assert require_text("  reason  ", "reason", 10) == "reason"
    assert require_text("line one\nline two", "reason", 40) == "line one\nline two"
    assert field_of(lambda: require_text("   ", "reason", 10)) == "reason"
    assert field_of(lambda: require_text("x" * 11, "reason", 10)) == "reason"
    assert field_of(lambda: require_text("bell\x07", "reason", 10)) == "reason"
