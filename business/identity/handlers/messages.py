"""Identity's proto mapping: domain results -> identity messages, and the few enums and oneofs back."""

from __future__ import annotations

from typing import Any

from google.protobuf.struct_pb2 import Struct

from business.audit.domain import AuditEvent
from business.identity.domain.accounts import Account
from business.identity.domain.entities import ACTIVE, ADMIN, INSTRUCTOR, SUSPENDED, USER, SignInSession
from business.identity.domain.second_factor import Factor
from business.identity.domain.sessions import Challenge, SignInResult, TokenPair
from service_runtime.timestamps import to_timestamp
from trading.identity.v1 import auth_service_pb2 as auth_pb
from trading.identity.v1 import identity_pb2 as pb
from trading.identity.v1 import user_admin_service_pb2 as admin_pb
from trading.identity.v1 import user_service_pb2 as user_pb

ROLE_TO_PB = {USER: pb.ROLE_USER, ADMIN: pb.ROLE_ADMIN, INSTRUCTOR: pb.ROLE_INSTRUCTOR}
ROLE_FROM_PB = {v: k for k, v in ROLE_TO_PB.items()}
STATUS_TO_PB = {ACTIVE: pb.USER_STATUS_ACTIVE, SUSPENDED: pb.USER_STATUS_SUSPENDED}
STATUS_FROM_PB = {pb.USER_STATUS_ACTIVE: ACTIVE, pb.USER_STATUS_SUSPENDED: SUSPENDED}
_FACTOR_KINDS = {"totp_code": "totp", "backup_code": "backup_code"}


def factor(
    request: auth_pb.VerifySecondFactorRequest
    | user_pb.DisableTotpRequest
    | user_pb.RegenerateBackupCodesRequest,
) -> Factor:
    """The second factor of the request's `factor` oneof; InvalidArgument names the field when
    there is none."""
    kind = request.WhichOneof("factor")
    code = request.totp_code if kind == "totp_code" else request.backup_code
    return Factor.parse(_FACTOR_KINDS.get(kind or ""), code)


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
        created_at=to_timestamp(u.created_at),
        last_login_at=to_timestamp(u.last_login_at) if u.last_login_at else None,
        linked_providers=account.linked_providers,
        backup_codes_remaining=account.backup_codes_remaining,
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


def sign_in_fields(result: SignInResult) -> dict[str, Any]:
    """The `result` oneof of LoginResponse and its siblings."""
    if isinstance(result, TokenPair):
        return {"tokens": token_pair(result)}
    return {"challenge": challenge(result)}


def session(value: SignInSession, current_session_id: str) -> user_pb.Session:
    return user_pb.Session(
        id=value.id,
        created_at=to_timestamp(value.created_at),
        last_used_at=to_timestamp(value.last_used_at),
        expires_at=to_timestamp(value.expires_at),
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
        time=to_timestamp(event.at),
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
