"""Plans in every service: who is exempt, and the request values a plan reserves.

The matrix is declared once, in each RPC's access rule (proto/trading/common/v1/access.proto):
`plans` closes a whole RPC (Envoy checks it at the edge, the access interceptor again in the
service), `plan_limits` reserve some values of a request field (only the service can read them:
the access interceptor checks the value limits of every call, a handler the date spans, which need
the stored bars). docs/plans.md and PlanService.ListPlans are derived from the same rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from google.protobuf.descriptor import MethodDescriptor

from service_runtime.caller import Caller, has_plan
from service_runtime.errors import PlanRequired
from trading.common.v1 import access_pb2

DAY_S = 86_400


def require_plan(caller: Caller, plans: Sequence[str], field: str = "", detail: str = "") -> None:
    """Raises PlanRequired (PERMISSION_DENIED naming the plan and the field) without the plan."""
    if not has_plan(caller, plans):
        raise PlanRequired(plans, caller.plan, field, detail)


def reserved(limit: access_pb2.PlanLimit, value: str) -> bool:
    """Whether `value` of the limit's field needs one of its plans (value limits only)."""
    if limit.open_values:
        return value not in limit.open_values
    if limit.plan_values:
        return value in limit.plan_values
    return False


def check_request(caller: Caller, rule: access_pb2.AccessRule, request: Any) -> None:
    """The value limits of the rule, applied to a request message (date spans: check_span)."""
    for limit in rule.plan_limits:
        if limit.max_span_days or not hasattr(request, limit.field):
            continue
        value = str(getattr(request, limit.field)).strip().lower()  # as the services read it
        if reserved(limit, value):
            # A field left empty asks for its default (every horizon, say): `horizon ""` said nothing.
            require_plan(
                caller, limit.plans, limit.field, f'"{value}"' if value else "left empty (its default)"
            )


def value_plans(method: MethodDescriptor, field: str, values: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Each of `values` that the method's access rule reserves on `field`, with the plans that open
    it (values open to every plan are left out): for a service that must apply the same limit
    later, on something the request made (a stored rule), not on the request itself."""
    rule = method.GetOptions().Extensions[access_pb2.access]
    limits = [limit for limit in rule.plan_limits if limit.field == field and not limit.max_span_days]
    return {
        value: tuple(plan for limit in limits if reserved(limit, value) for plan in limit.plans)
        for value in values
        if any(reserved(limit, value) for limit in limits)
    }


def span_limit(method: MethodDescriptor, field: str) -> access_pb2.PlanLimit | None:
    """The date-span limit the method's access rule puts on `field`, None when it has none."""
    rule = method.GetOptions().Extensions[access_pb2.access]
    return next((limit for limit in rule.plan_limits if limit.field == field and limit.max_span_days), None)


def check_span(caller: Caller, limit: access_pb2.PlanLimit | None, start_s: float, end_s: float) -> None:
    """Refuses a range (epoch seconds) longer than the limit to a caller without its plan."""
    if limit is not None and end_s - start_s > limit.max_span_days * DAY_S:
        days = int((end_s - start_s) // DAY_S)
        require_plan(
            caller, limit.plans, limit.field, f"(a range of {days} days; at most {limit.max_span_days})"
        )
