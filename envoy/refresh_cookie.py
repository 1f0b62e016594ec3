"""The Lua filter that keeps a browser's refresh token in an httpOnly cookie (refresh_cookie.lua).

Which routes it acts on comes from the contract: AuthService's RPCs that return tokens
(sign-in), Refresh and Logout, by their gRPC(-Web) path and their REST path. The cookie is
scoped to the two path prefixes those calls use.
"""

from __future__ import annotations

import json
from pathlib import Path

from envoy.rpcs import Rpc
from envoy.settings import EdgeSettings

LUA_REFRESH_COOKIE = Path(__file__).resolve().parent / "refresh_cookie.lua"
AUTH_SERVICE = "trading.identity.v1.AuthService"
# What each RPC does with the cookie: sign-ins set it, Refresh reads and rotates it, Logout reads
# and expires it.
ENDPOINTS = {
    "Login": "sign_in",
    "VerifySecondFactor": "sign_in",
    "VerifyPhoneLogin": "sign_in",
    "Refresh": "refresh",
    "Logout": "logout",
}
# The cookie goes with gRPC-Web calls to AuthService and with its REST routes, nowhere else.
COOKIE_PATHS = (f"/{AUTH_SERVICE}/", "/api/auth/")


def endpoints(rpcs: list[Rpc]) -> dict[str, str]:
    """Request path (gRPC and REST) -> what the cookie filter does there."""
    paths: dict[str, str] = {}
    for rpc in rpcs:
        service, method = rpc.path.strip("/").split("/")
        if service != AUTH_SERVICE or method not in ENDPOINTS:
            continue
        paths[rpc.path] = ENDPOINTS[method]
        if rpc.http_path and not rpc.http_path.startswith(COOKIE_PATHS[1]):
            raise ValueError(
                f"{rpc.path}'s REST path {rpc.http_path} is outside the cookie's {COOKIE_PATHS[1]}"
            )
        if rpc.http_path:
            paths[rpc.http_path] = ENDPOINTS[method]
    missing = set(ENDPOINTS) - {path.rsplit("/", 1)[1] for path in paths if path.startswith(COOKIE_PATHS[0])}
    if missing:
        raise ValueError(f"the contract's {AUTH_SERVICE} lacks {sorted(missing)}")
    return paths


def refresh_cookie_lua(edge: EdgeSettings, rpcs: list[Rpc]) -> str:
    def table(entries: dict[str, str]) -> str:
        return (
            "{"
            + ", ".join(
                f"[{json.dumps(key)}] = {json.dumps(value)}" for key, value in sorted(entries.items())
            )
            + "}"
        )

    return (
        f"ENDPOINTS = {table(endpoints(rpcs))}\n"
        f"ORIGINS = {{{', '.join(f'[{json.dumps(origin)}] = true' for origin in edge.cors_origins)}}}\n"
        f"COOKIE_PATHS = {{{', '.join(json.dumps(path) for path in COOKIE_PATHS)}}}\n"
        + LUA_REFRESH_COOKIE.read_text()
    )
