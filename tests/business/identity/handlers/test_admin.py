"""UserAdminService through a real server: admins only; enums and times mapped both ways."""

from __future__ import annotations

import time

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from business.identity.domain.context import Identity
from service_runtime.caller import Caller
from tests.business.identity.conftest import new_email
from tests.business.identity.helpers import signed_in
from tests.support.in_process import TestCallers, violated_fields
from trading.identity.v1 import identity_pb2
from trading.identity.v1 import user_admin_service_pb2 as pb
from trading.identity.v1 import user_admin_service_pb2_grpc as pb_grpc


async def test_a_user_token_is_refused(channel: grpc.aio.Channel, callers: TestCallers) -> None:
    stub = pb_grpc.UserAdminServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.ListUsers(pb.ListUsersRequest(), metadata=callers.metadata(roles=("user",)))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await stub.ListAuditEvents(pb.ListAuditEventsRequest())
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_an_admin_lists_users_and_their_audit_trail(
    channel: grpc.aio.Channel, callers: TestCallers, identity: Identity
) -> None:
    user, _ = await signed_in(identity, new_email())
    admin = callers.metadata(subject="boss", roles=("admin",))
    stub = pb_grpc.UserAdminServiceStub(channel)
    users = await stub.ListUsers(
        pb.ListUsersRequest(query=user.email, role=identity_pb2.ROLE_USER), metadata=admin
    )
    assert [(u.id, u.role, u.status) for u in users.users] == [
        (user.id, identity_pb2.ROLE_USER, identity_pb2.USER_STATUS_ACTIVE)
    ]
    with pytest.raises(grpc.aio.AioRpcError) as bad_role:
        await stub.ListUsers(pb.ListUsersRequest(role=99), metadata=admin)  # type: ignore[arg-type]
    assert bad_role.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(bad_role.value) == ["role"]

    events = await stub.ListAuditEvents(pb.ListAuditEventsRequest(subject_id=user.id), metadata=admin)
    assert [e.action for e in events.events] == ["auth.login.succeeded", "auth.register"]
    registered = events.events[1]
    assert registered.after["email"] == user.email and registered.time.seconds > 0
    login_time = events.events[0].time
    with pytest.raises(grpc.aio.AioRpcError) as backwards:
        await stub.ListAuditEvents(
            pb.ListAuditEventsRequest(since=login_time, until=Timestamp(seconds=login_time.seconds - 60)),
            metadata=admin,
        )
    assert violated_fields(backwards.value) == ["until"]
    later = await stub.ListAuditEvents(
        pb.ListAuditEventsRequest(subject_id=user.id, since=login_time), metadata=admin
    )
    assert [e.action for e in later.events] == ["auth.login.succeeded"]


async def test_an_admin_sets_a_plan_and_the_instructor_role(
    channel: grpc.aio.Channel, callers: TestCallers, identity: Identity
) -> None:
    user, _ = await signed_in(identity, new_email())
    admin = callers.metadata(subject="boss", roles=("admin",))
    stub = pb_grpc.UserAdminServiceStub(channel)
    upgraded = await stub.SetUserPlan(pb.SetUserPlanRequest(user_id=user.id, plan="pro"), metadata=admin)
    assert upgraded.user.plan == "pro"
    # Tokens issued before carry the old plan: they are revoked.
    before = Caller(subject=user.id, roles=frozenset({"user"}), plan="free", issued_at=time.time() - 1)
    assert await identity.revocations.is_revoked(before)
    with pytest.raises(grpc.aio.AioRpcError) as bad_plan:
        await stub.SetUserPlan(pb.SetUserPlanRequest(user_id=user.id, plan="platinum"), metadata=admin)
    assert violated_fields(bad_plan.value) == ["plan"]
    with pytest.raises(grpc.aio.AioRpcError) as not_admin:
        await stub.SetUserPlan(
            pb.SetUserPlanRequest(user_id=user.id, plan="pro"), metadata=callers.metadata(roles=("user",))
        )
    assert not_admin.value.code() == grpc.StatusCode.PERMISSION_DENIED

    promoted = await stub.SetUserRole(
        pb.SetUserRoleRequest(user_id=user.id, role=identity_pb2.ROLE_INSTRUCTOR), metadata=admin
    )
    assert promoted.user.role == identity_pb2.ROLE_INSTRUCTOR
    # An instructor's token also says "user": the RPCs open to users stay open to them.
    claims = identity.tokens.claims(user_id=user.id, role="instructor", plan="pro", session_id="s", now=0)
    assert claims["roles"] == ["instructor", "user"]

    events = await stub.ListAuditEvents(
        pb.ListAuditEventsRequest(subject_id=user.id, action="admin.user.*"), metadata=admin
    )
    changes = [(e.action, dict(e.before), dict(e.after)) for e in reversed(events.events)]
    assert changes == [
        ("admin.user.plan_changed", {"plan": "free"}, {"plan": "pro"}),
        ("admin.user.role_changed", {"role": "user"}, {"role": "instructor"}),
    ]
