"""Who is calling: the verified claims of the access token an RPC carries.

Free of gRPC so that domain code can take a Caller; the access interceptor
(service_runtime.access) verifies the token and sets it for the duration of the call."""

from __future__ import annotations

import contextvars
from collections.abc import Iterable
from dataclasses import dataclass

from service_runtime.errors import Unauthenticated


@dataclass(frozen=True)
class Caller:
    """The verified claims of the access token a call carries."""

    subject: str
    roles: frozenset[str]
    plan: str
    # `sid`: the session (refresh token family) the token was issued in; empty for service tokens.
    session_id: str = ""
    token_id: str = ""
    issued_at: float = 0.0
    # `exp`: a long-lived connection (the WebSocket bridge) ends when its token does.
    expires_at: float = 0.0


# Roles no plan check applies to: platform staff, and platform components (business reading the
# ML engine on behalf of a user, with a service token that carries no plan).
PLAN_EXEMPT_ROLES = frozenset({"admin", "service"})


def plan_exempt(caller: Caller) -> bool:
    return bool(caller.roles & PLAN_EXEMPT_ROLES)


def has_plan(caller: Caller, plans: Iterable[str]) -> bool:
    """Whether the caller may use what `plans` opens (empty: open to every plan)."""
    plans = list(plans)
    return not plans or caller.plan in plans or plan_exempt(caller)


caller_var: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("caller", default=None)


def current_caller() -> Caller:
    """The caller of the RPC being served; the access interceptor has verified its token."""
    caller = caller_var.get()
    if caller is None:
        raise Unauthenticated("an access token is required (authorization: Bearer <token>)")
    return caller
