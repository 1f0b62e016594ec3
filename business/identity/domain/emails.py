"""Plain-text bodies of the emails identity sends.

Plain text only: no tracking, no HTML to sanitise, and the link is shown in full so the reader
can see where it goes. `already_registered_email` answers a sign-up for an existing address
without revealing to the requester that the account exists, and carries no reset link (the
holder did not ask for one).
"""

from __future__ import annotations

from business.shared.emails import OutgoingEmail

PRODUCT_NAME = "Trading Platform"


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


def already_registered_email(to: str, forgot_password_page: str) -> OutgoingEmail:
    """No link that does anything: the holder did not ask for this mail. A reset starts from the
    forgot-password page, where the holder asks for a link themselves."""
    return OutgoingEmail(
        to=to,
        subject=f"Someone tried to sign up with your {PRODUCT_NAME} address",
        text=(
            "Hello,\n\nSomeone tried to create a new account with this email address, which already "
            "has an account.\nNothing changed, and no one can sign in with it because of this.\n\n"
            "If it was you and you forgot your password, ask for a reset link on this page:\n\n"
            f"{forgot_password_page}\n\nIf it was not you, ignore this email.\n"
        ),
    )
