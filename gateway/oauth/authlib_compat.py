"""The authlib pieces the sign-in flow uses, imported in one place.

authlib ships no type information (no py.typed), so its names are re-exported here as `Any`
and the rest of the package stays fully typed.
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.base_client.errors import OAuthError as _OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client as _AsyncOAuth2Client
from authlib.oidc.core import CodeIDToken as _CodeIDToken

AsyncOAuth2Client: Any = _AsyncOAuth2Client
CodeIDToken: Any = _CodeIDToken
# A provider's error answer at the token endpoint (`error`, `description`).
OAuthError: type[Exception] = _OAuthError
