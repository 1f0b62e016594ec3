"""UserAdminService: accounts and the audit log, for callers with the admin role."""

from __future__ import annotations

from business.audit.domain import AuditQuery
from business.identity.domain import admin
from business.identity.domain.context import Identity
from business.identity.handlers import messages
from business.shared.proto_mapping import Context, client_of
from service_runtime.caller import current_caller
from service_runtime.errors import InvalidArgument
from service_runtime.timestamps import from_timestamp
from trading.identity.v1 import identity_pb2
from trading.identity.v1 import user_admin_service_pb2 as pb
from trading.identity.v1 import user_admin_service_pb2_grpc as pb_grpc


class AdminHandlers(pb_grpc.UserAdminServiceServicer):
    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    async def ListUsers(self, request: pb.ListUsersRequest, context: Context) -> pb.ListUsersResponse:
        if request.role not in (identity_pb2.ROLE_UNSPECIFIED, *messages.ROLE_FROM_PB):
            raise InvalidArgument.field("role", "is not a known role")
        if request.status not in (identity_pb2.USER_STATUS_UNSPECIFIED, *messages.STATUS_FROM_PB):
            raise InvalidArgument.field("status", "is not a known status")
        page = await admin.list_users(
            self.identity,
            admin.UserFilter(
                query=request.query,
                role=messages.ROLE_FROM_PB.get(request.role, ""),
                status=messages.STATUS_FROM_PB.get(request.status, ""),
                page_size=request.page_size,
                page_token=request.page_token,
            ),
        )
        return pb.ListUsersResponse(
            users=[messages.user(a) for a in page.items], next_page_token=page.next_page_token
        )

    async def SetUserRole(self, request: pb.SetUserRoleRequest, context: Context) -> pb.SetUserRoleResponse:
        account = await admin.set_role(
            self.identity,
            current_caller().subject,
            request.user_id,
            messages.ROLE_FROM_PB.get(request.role, ""),
            client_of(context),
        )
        return pb.SetUserRoleResponse(user=messages.user(account))

    async def SetUserPlan(self, request: pb.SetUserPlanRequest, context: Context) -> pb.SetUserPlanResponse:
        account = await admin.set_plan(
            self.identity, current_caller().subject, request.user_id, request.plan, client_of(context)
        )
        return pb.SetUserPlanResponse(user=messages.user(account))

    async def SuspendUser(self, request: pb.SuspendUserRequest, context: Context) -> pb.SuspendUserResponse:
        account = await admin.suspend_user(
            self.identity,
            current_caller().subject,
            request.user_id,
            request.suspended,
            request.reason,
            client_of(context),
        )
        return pb.SuspendUserResponse(user=messages.user(account))

    async def ListAuditEvents(
        self, request: pb.ListAuditEventsRequest, context: Context
    ) -> pb.ListAuditEventsResponse:
        page = await admin.list_audit_events(
            self.identity,
            admin.AuditFilter(
                AuditQuery(
                    actor_id=request.actor_id,
                    subject_id=request.subject_id,
                    action=request.action,
                    since=from_timestamp(request.since) if request.HasField("since") else None,
                    until=from_timestamp(request.until) if request.HasField("until") else None,
                ),
                page_size=request.page_size,
                page_token=request.page_token,
            ),
        )
        return pb.ListAuditEventsResponse(
            events=[messages.audit_event(e) for e in page.items], next_page_token=page.next_page_token
        )
