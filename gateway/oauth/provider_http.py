"""Calls to a provider's HTTP endpoints, with every failure turned into a clean answer.

A provider that cannot be reached is our dependency being down (503); one that answers
nonsense or refuses a request we made correctly is a bad gateway (502). Either way the
browser gets JSON naming the provider, never a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from gateway.oauth.errors import OAuthFlowError

log = logging.getLogger(__name__)


def http_client(timeout_s: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=timeout_s, headers={"Accept": "application/json"})


def unreachable(provider: str, exc: Exception) -> OAuthFlowError:
    log.warning("oauth provider unreachable", extra={"provider": provider, "error": repr(exc)})
    return OAuthFlowError(503, f"{provider} sign-in is unavailable: the provider cannot be reached")


def bad_answer(provider: str, what: str) -> OAuthFlowError:
    log.warning("oauth provider answered badly", extra={"provider": provider, "what": what})
    return OAuthFlowError(502, f"{provider} sign-in failed: {what}")


async def get_json(
    client: httpx.AsyncClient,
    provider: str,
    url: str,
    *,
    what: str,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> Any:
    """GET `url` and return its JSON body; `what` names the call in error messages."""
    try:
        reply = await client.get(url, headers=headers, params=params)
    except httpx.HTTPError as exc:
        raise unreachable(provider, exc) from exc
    if reply.status_code != 200:
        raise bad_answer(provider, f"{what} answered HTTP {reply.status_code}")
    try:
        return reply.json()
    except ValueError as exc:
        raise bad_answer(provider, f"{what} did not answer JSON") from exc
