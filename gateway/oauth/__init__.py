"""OAuth 2.0 / OpenID Connect sign-in (Google, Facebook, GitHub), served by the gateway.

The browser leg (redirects, state, PKCE, the provider's answer) is plain HTTP, so it lives
here; the account decision (find, link by verified email, or create) is business's, reached
over gRPC with a short-lived service token.
"""

from __future__ import annotations

from gateway.oauth.routes import router

__all__ = ["router"]
