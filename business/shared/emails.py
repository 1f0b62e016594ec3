"""An email as the features write it (plain text); the sender is business/shared/mail.py."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutgoingEmail:
    to: str
    subject: str
    text: str
