"""What handler tests need to call a service on a real in-process server: signing keys, the
verifier the server checks them with, and the metadata of a caller with given roles and plan."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from service_runtime.access import TokenVerifier, keys_from_folder
from service_runtime.signing_keys import SigningKeyStore
from service_runtime.token_claims import access_claims

ISSUER = "trading-platform"
AUDIENCE = "trading-api"
Metadata = tuple[tuple[str, str], ...]


class TestCallers:
    """Signs access tokens with a throwaway key; `verifier()` is what the server trusts."""

    __test__ = False  # not a test class, despite the name

    def __init__(self, folder: Path) -> None:
        self.keys = SigningKeyStore(folder, activation_delay_s=0)
        self.keys.ensure()
        self.folder = folder

    def verifier(self) -> TokenVerifier:
        return TokenVerifier(keys_from_folder(self.folder), ISSUER, AUDIENCE)

    def token(
        self,
        subject: str = "user-1",
        roles: tuple[str, ...] = ("user",),
        plan: str = "free",
        ttl_s: int = 900,
        session_id: str = "",
    ) -> str:
        claims = access_claims(
            subject=subject,
            roles=list(roles),
            plan=plan,
            issuer=ISSUER,
            audience=AUDIENCE,
            ttl_s=ttl_s,
            now=time.time(),
            session_id=session_id,
        )
        return self.keys.sign(claims)

    def metadata(self, **token_options: Any) -> Metadata:
        """`authorization` metadata with a token of `token(**token_options)`."""
        return (("authorization", f"Bearer {self.token(**token_options)}"),)


def violations(error: grpc.aio.AioRpcError) -> list[tuple[str, str]]:
    """(field, description) of each field violation in a refused call's google.rpc.BadRequest."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, f"{error.code()} carries no google.rpc.Status: {error.details()}"
    bad_request = error_details_pb2.BadRequest()
    assert status.details and status.details[0].Unpack(bad_request)
    return [(v.field, v.description) for v in bad_request.field_violations]


def violated_fields(error: grpc.aio.AioRpcError) -> list[str]:
    """The fields a refused call's google.rpc.BadRequest names."""
    return [field for field, _ in violations(error)]


def error_info(error: grpc.RpcError) -> error_details_pb2.ErrorInfo:
    """The google.rpc.ErrorInfo of a refused call (PLAN_REQUIRED, ...), sync or asyncio."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, f"no google.rpc.Status in {error}"
    info = error_details_pb2.ErrorInfo()
    assert any(detail.Unpack(info) for detail in status.details), status
    return info


def retry_delay_s(error: grpc.aio.AioRpcError) -> float:
    """The google.rpc.RetryInfo delay of a refused call (s)."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, f"{error.code()} carries no google.rpc.Status: {error.details()}"
    retry = error_details_pb2.RetryInfo()
    assert any(detail.Unpack(retry) for detail in status.details), status
    return retry.retry_delay.ToMilliseconds() / 1000
