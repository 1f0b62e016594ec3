"""Input normalisation for identity fields; every rejection names the offending field."""

from __future__ import annotations

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email

from service_runtime.errors import InvalidArgument

MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit
MAX_DISPLAY_NAME_LENGTH = 80
# ASCII digits only, as the published rule says (gateway/field_rules.py): \d would take any script's.
_E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
_PHONE_PUNCTUATION = str.maketrans("", "", " -()\t")
# Bidi overrides/isolates let a name display differently from what it is.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def normalize_email(value: str, field: str = "email") -> str:
    """Syntax-checked (no DNS lookups), lower-cased email address."""
    value = value.strip()
    if not value:
        raise InvalidArgument.field(field, "is required")
    if len(value) > MAX_EMAIL_LENGTH:
        raise InvalidArgument.field(field, f"must be at most {MAX_EMAIL_LENGTH} characters")
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidArgument.field(field, f"is not a valid email address: {exc}") from exc
    normalized = result.normalized.lower()
    if len(normalized) > MAX_EMAIL_LENGTH:
        raise InvalidArgument.field(field, f"must be at most {MAX_EMAIL_LENGTH} characters")
    return normalized


def normalize_phone(value: str, field: str = "phone_number") -> str:
    """E.164 (+ and 8..15 digits) after removing spaces, dashes and parentheses."""
    cleaned = value.strip().translate(_PHONE_PUNCTUATION)
    if not cleaned:
        raise InvalidArgument.field(field, "is required")
    if not _E164.fullmatch(cleaned):
        raise InvalidArgument.field(field, "must be an international number in E.164 form, like +14155550123")
    return cleaned


def _has_control_characters(value: str, allowed: str = "") -> bool:
    return any(
        (unicodedata.category(ch) == "Cc" and ch not in allowed) or ch in _BIDI_CONTROLS for ch in value
    )


def clean_display_name(value: str, field: str = "display_name") -> str:
    """NFC-normalised and stripped; may be empty; at most 80 characters; no control characters."""
    cleaned = unicodedata.normalize("NFC", value).strip()
    if len(cleaned) > MAX_DISPLAY_NAME_LENGTH:
        raise InvalidArgument.field(field, f"must be at most {MAX_DISPLAY_NAME_LENGTH} characters")
    if _has_control_characters(cleaned):
        raise InvalidArgument.field(field, "must not contain control characters")
    return cleaned


def require_text(value: str, field: str, max_length: int) -> str:
    """Stripped text that must not be empty and must fit `max_length` (line breaks and tabs allowed)."""
    cleaned = value.strip()
    if not cleaned:
        raise InvalidArgument.field(field, "is required")
    if len(cleaned) > max_length:
        raise InvalidArgument.field(field, f"must be at most {max_length} characters")
    if _has_control_characters(cleaned, allowed="\n\t"):
        raise InvalidArgument.field(field, "must not contain control characters")
    return cleaned
