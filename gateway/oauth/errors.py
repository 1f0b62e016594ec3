"""The one exception of the sign-in flow: an HTTP status and a message fit for the browser."""

from __future__ import annotations


class OAuthFlowError(Exception):
    """Ends a sign-in with a JSON error (`gateway.errors.error_response`); never a stack trace."""

    def __init__(self, status: int, message: str, *, provider_error: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        # The provider's own error code (e.g. "access_denied", "invalid_grant"), when it gave one.
        self.provider_error = provider_error
