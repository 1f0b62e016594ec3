"""Plain-text bodies of the emails identity sends.

Plain text only: no tracking, no HTML to sanitise, and the link is shown in full so the reader
can see where it goes. `already_registered_email` answers a sign-up for an existing address
without revealing to the requester that the account exists.
"""

from __future__ import annotations

from dataclasses import dataclass

PRODUCT_NAME = "Trading Platform"


@dataclass(frozen=True)
class OutgoingEmail:
    to: str
    subject: str
    text: str


def verification_email(to: str, link: str) -> OutgoingEmail:
    return OutgoingEmail(
        to=to,
        subject=f"Confirm your email address for {PRODUCT_NAME}",
        text=(
            f"Hello,\n\nPlease confirm your email address by opening this link:\n\n{link}\n\n"
            "The link expires soon and works once. If you did not sign up, ignore this email.\n"
        ),
    )


def password_reset_email(to: str, link: str) -> OutgoingEmail:
    return OutgoingEmail(
        to=to,
        subject=f"Reset your {PRODUCT_NAME} password",
        text=(
            f"Hello,\n\nSomeone asked to reset the password of your account. To choose a new one, open:\n\n"
            f"{link}\n\nThe link expires soon and works once. Resetting signs out every session.\n"
            "If you did not ask for this, ignore this email: your password stays unchanged.\n"
        ),
    )


def already_registered_email(to: str, reset_link: str) -> OutgoingEmail:
    return OutgoingEmail(
        to=to,
        subject=f"Your {PRODUCT_NAME} account",
        text=(
            "Hello,\n\nSomeone tried to sign up with this email address, but it already has an account.\n"
            f"If it was you and you forgot your password, reset it here:\n\n{reset_link}\n\n"
            "If it was not you, ignore this email: nothing changed.\n"
        ),
    )
