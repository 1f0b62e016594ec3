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
