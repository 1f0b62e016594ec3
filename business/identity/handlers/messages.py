"""Domain results → identity protobuf messages (and the few enums back)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeAlias

import grpc
from google.protobuf.struct_pb2 import Struct
from google.protobuf.timestamp_pb2 import Timestamp

from business.identity.data.tables import AuditEvent
from business.identity.data.tables import Session as SignInSession
from business.identity.domain.accounts import Account
from business.identity.domain.context import Client
from business.identity.domain.sessions import Challenge, TokenPair
from service_runtime.request_meta import request_meta
from trading.identity.v1 import identity_pb2 as pb
from trading.identity.v1 import user_admin_service_pb2 as admin_pb
from trading.identity.v1 import user_service_pb2 as user_pb

# The servicer context of a grpc.aio call (a short name keeps handler signatures on one line).
Context: TypeAlias = grpc.aio.ServicerContext

ROLE_TO_PB = {"user": pb.ROLE_USER, "admin": pb.ROLE_ADMIN}
ROLE_FROM_PB = {pb.ROLE_USER: "user", pb.ROLE_ADMIN: "admin"}
STATUS_TO_PB = {"active": pb.USER_STATUS_ACTIVE, "suspended": pb.USER_STATUS_SUSPENDED}
STATUS_FROM_PB = {pb.USER_STATUS_ACTIVE: "active", pb.USER_STATUS_SUSPENDED: "suspended"}


def client_of(context: Context) -> Client:
    meta = request_meta(context)
    return Client(meta.ip, meta.user_agent, meta.request_id)


def timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def to_datetime(stamp: Timestamp, present: bool) -> datetime | None:
    if not present:
        return None
    return stamp.ToDatetime(tzinfo=UTC)


def user(account: Account) -> pb.User:
    u = account.user
    return pb.User(
        id=u.id,
        email=u.email,
        email_verified=u.email_verified,
        display_name=u.display_name,
        phone_number=u.phone_number or "",
        phone_verified=u.phone_verified,
        role=ROLE_TO_PB.get(u.role, pb.ROLE_UNSPECIFIED),
        status=STATUS_TO_PB.get(u.status, pb.USER_STATUS_UNSPECIFIED),
        plan=u.plan,
        totp_enabled=u.totp_enabled,
        created_at=timestamp(u.created_at),
        last_login_at=timestamp(u.last_login_at),
        linked_providers=account.linked_providers,
    )


def token_pair(pair: TokenPair) -> pb.TokenPair:
    return pb.TokenPair(
        access_token=pair.access_token,
        token_type="Bearer",
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
        refresh_expires_in=pair.refresh_expires_in,
        session_id=pair.session_id,
    )


def challenge(value: Challenge) -> pb.SecondFactorChallenge:
    return pb.SecondFactorChallenge(
        challenge_token=value.token, expires_in=value.expires_in, methods=list(value.methods)
    )


def sign_in_fields(result: TokenPair | Challenge) -> dict[str, Any]:
    """The `result` oneof of LoginResponse and its siblings."""
    if isinstance(result, TokenPair):
        return {"tokens": token_pair(result)}
    return {"challenge": challenge(result)}


def session(value: SignInSession, current_session_id: str) -> user_pb.Session:
    return user_pb.Session(
        id=value.id,
        created_at=timestamp(value.created_at),
        last_used_at=timestamp(value.last_used_at),
        expires_at=timestamp(value.expires_at),
        ip=value.ip,
        user_agent=value.user_agent,
        method=value.method,
        current=value.id == current_session_id,
    )


def _struct(values: dict[str, Any] | None) -> Struct | None:
    if values is None:
        return None
    struct = Struct()
    struct.update(values)
    return struct


def audit_event(event: AuditEvent) -> admin_pb.AuditEvent:
    return admin_pb.AuditEvent(
        id=str(event.id),
        time=timestamp(event.at),
        action=event.action,
        outcome=event.outcome,
        actor_id=event.actor_id,
        subject_id=event.subject_id,
        ip=event.ip,
        user_agent=event.user_agent,
        request_id=event.request_id,
        before=_struct(event.before),
        after=_struct(event.after),
        detail=_struct(event.detail),
    )
