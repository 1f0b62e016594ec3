"""AuthService through a real server: public RPCs, field violations, tokens that work at once."""

from __future__ import annotations

import grpc
import pytest

from tests.business.identity.conftest import PASSWORD, new_email
from tests.support.in_process import TestCallers, violated_fields
from trading.identity.v1 import auth_service_pb2 as pb
from trading.identity.v1 import auth_service_pb2_grpc as pb_grpc
from trading.identity.v1 import user_service_pb2 as user_pb
from trading.identity.v1 import user_service_pb2_grpc as user_grpc


async def test_a_bad_email_is_invalid_argument_naming_the_field(channel: grpc.aio.Channel) -> None:
    stub = pb_grpc.AuthServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.Register(pb.RegisterRequest(email="ada@example", password=PASSWORD))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(refused.value) == ["email"]


async def test_register_then_login_gives_tokens_the_services_accept(channel: grpc.aio.Channel) -> None:
    stub = pb_grpc.AuthServiceStub(channel)
    email = new_email()
    registered = await stub.Register(pb.RegisterRequest(email=email, password=PASSWORD, display_name="Ada"))
    assert registered.message.startswith("Check your inbox")
    login = await stub.Login(pb.LoginRequest(email=email, password=PASSWORD))
    assert login.WhichOneof("result") == "tokens" and login.tokens.token_type == "Bearer"
    bearer = (("authorization", f"Bearer {login.tokens.access_token}"),)
    me = await user_grpc.UserServiceStub(channel).GetMe(user_pb.GetMeRequest(), metadata=bearer)
    assert me.user.email == email and me.user.display_name == "Ada"
    assert me.user.created_at.seconds > 0 and me.user.last_login_at.seconds >= me.user.created_at.seconds

    with pytest.raises(grpc.aio.AioRpcError) as wrong:
        await stub.Login(pb.LoginRequest(email=email, password="not the password at all"))
    assert wrong.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert wrong.value.details() == "invalid email or password"


async def test_a_second_factor_is_required_by_its_oneof(channel: grpc.aio.Channel) -> None:
    stub = pb_grpc.AuthServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.VerifySecondFactor(pb.VerifySecondFactorRequest(challenge_token="x"))
    assert missing.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(missing.value) == ["totp_code"]
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await stub.VerifySecondFactor(
            pb.VerifySecondFactorRequest(challenge_token="x", backup_code="abcde-fghij")
        )
    assert unknown.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_oauth_completion_is_for_services_only(channel: grpc.aio.Channel, callers: TestCallers) -> None:
    stub = pb_grpc.AuthServiceStub(channel)
    request = pb.CompleteOAuthLoginRequest(
        provider="google", subject="g-1", email=new_email(), email_verified=True
    )
    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await stub.CompleteOAuthLogin(request)
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as user:
        await stub.CompleteOAuthLogin(request, metadata=callers.metadata())
    assert user.value.code() == grpc.StatusCode.PERMISSION_DENIED
    reply = await stub.CompleteOAuthLogin(
        request, metadata=callers.metadata(subject="gateway", roles=("service",))
    )
    assert reply.created and reply.WhichOneof("result") == "tokens"


async def _initial(call: grpc.aio.UnaryUnaryCall) -> dict[str, str]:
    return {key: str(value) for key, value in (await call.initial_metadata() or ())}


async def test_in_cookie_mode_the_refresh_token_travels_in_headers_only(channel: grpc.aio.Channel) -> None:
    """The edge's cookie (envoy/refresh_cookie.lua): the token leaves in x-refresh-token, never in
    the message, and comes back in x-refresh-token for Refresh and Logout."""
    stub = pb_grpc.AuthServiceStub(channel)
    email = new_email()
    await stub.Register(pb.RegisterRequest(email=email, password=PASSWORD))
    cookie_mode = (("x-refresh-cookie", "1"),)
    login_call = stub.Login(pb.LoginRequest(email=email, password=PASSWORD), metadata=cookie_mode)
    login, headers = await login_call, await _initial(login_call)
    assert login.tokens.access_token and login.tokens.refresh_token == ""
    first = headers["x-refresh-token"]
    assert len(first) > 20 and headers["x-refresh-max-age"] == str(login.tokens.refresh_expires_in)

    refresh_call = stub.Refresh(pb.RefreshRequest(), metadata=(*cookie_mode, ("x-refresh-token", first)))
    refreshed, headers = await refresh_call, await _initial(refresh_call)
    second = headers["x-refresh-token"]
    assert refreshed.tokens.refresh_token == "" and second != first
    assert refreshed.tokens.session_id == login.tokens.session_id

    # Without cookie mode the token is in the message, as for curl and gRPC clients.
    in_body = await stub.Refresh(pb.RefreshRequest(), metadata=(("x-refresh-token", second),))
    assert in_body.tokens.refresh_token not in ("", second)
    await stub.Logout(pb.LogoutRequest(), metadata=(("x-refresh-token", in_body.tokens.refresh_token),))
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        await stub.Refresh(pb.RefreshRequest(refresh_token=in_body.tokens.refresh_token))
    assert ended.value.code() == grpc.StatusCode.UNAUTHENTICATED

    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.Refresh(pb.RefreshRequest(), metadata=cookie_mode)
    assert missing.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(missing.value) == ["refresh_token"]
