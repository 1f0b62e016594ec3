"""The account side of a sign-in: business's AuthService/CompleteOAuthLogin over gRPC, called
with the gateway's one-minute service token (gateway/business_channel.py).
"""

from __future__ import annotations

import logging

import grpc

from gateway.business_channel import BusinessChannel
from gateway.oauth.errors import OAuthFlowError
from gateway.oauth.userinfo import ProviderIdentity
from trading.identity.v1 import auth_service_pb2, auth_service_pb2_grpc

log = logging.getLogger(__name__)

# What a failed CompleteOAuthLogin means to the browser. Errors that only a gateway bug or a
# misconfiguration can cause (an unknown method, an internal error) become 502.
_HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    # e.g. a suspended account ("sign-in refused"); also our own token refused, which is logged.
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
# Messages of these codes are written for end users by business; others are not shown.
_PASS_THROUGH = frozenset(_HTTP_STATUS)


class BusinessAuth(BusinessChannel):
    """The one call a sign-in makes to business."""

    async def complete_login(
        self, identity: ProviderIdentity, *, client_ip: str, user_agent: str, request_id: str = ""
    ) -> auth_service_pb2.CompleteOAuthLoginResponse:
        request = auth_service_pb2.CompleteOAuthLoginRequest(
            provider=identity.provider,
            subject=identity.subject,
            email=identity.email,
            email_verified=identity.email_verified,
            display_name=identity.display_name,
            client_ip=client_ip,
            user_agent=user_agent,
        )
        stub = auth_service_pb2_grpc.AuthServiceStub(self.channel())
        try:
            reply: auth_service_pb2.CompleteOAuthLoginResponse = await stub.CompleteOAuthLogin(
                request, metadata=self.metadata(request_id), timeout=self.timeout_s
            )
        except grpc.aio.AioRpcError as exc:
            raise rpc_error(exc) from exc
        return reply


def rpc_error(exc: grpc.aio.AioRpcError) -> OAuthFlowError:
    code = exc.code()
    status = _HTTP_STATUS.get(code, 502)
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        # Either the account may not sign in, or business refused the gateway itself: keep a trace.
        log.warning("CompleteOAuthLogin refused", extra={"code": code.name, "details": exc.details()})
    if code in _PASS_THROUGH:
        message = exc.details() or "sign-in failed"
    else:
        log.error("CompleteOAuthLogin failed", extra={"code": code.name, "details": exc.details()})
        message = "sign-in failed: the account service refused the gateway's request"
    if code is grpc.StatusCode.UNAVAILABLE:
        message = "sign-in is unavailable: the account service cannot be reached"
    return OAuthFlowError(status, message)
