"""Two tabs refreshing one token at once, through a real gRPC server (SQLite, and PostgreSQL when
TEST_DATABASE_URL is set): many trials, because a race shows only now and then. Neither tab
is ever taken for a thief; a replay after the grace window still ends the session."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from business.identity.domain.context import Identity
from tests.business.identity.conftest import PASSWORD, Clock, new_email
from tests.business.identity.helpers import audit_actions
from trading.identity.v1 import auth_service_pb2 as pb
from trading.identity.v1 import auth_service_pb2_grpc as pb_grpc
from trading.identity.v1 import user_service_pb2 as user_pb
from trading.identity.v1 import user_service_pb2_grpc as user_grpc

TRIALS = 50


async def _signed_in(stub: pb_grpc.AuthServiceStub) -> tuple[str, pb.TokenPair]:
    email = new_email()
    await stub.Register(pb.RegisterRequest(email=email, password=PASSWORD))
    return email, await _login(stub, email)


async def _login(stub: pb_grpc.AuthServiceStub, email: str) -> pb.TokenPair:
    reply = await stub.Login(pb.LoginRequest(email=email, password=PASSWORD))
    assert reply.WhichOneof("result") == "tokens"
    return reply.tokens


async def test_two_tabs_refreshing_at_once_both_get_the_same_new_pair(
    channel: grpc.aio.Channel, identity: Identity
) -> None:
    stub = pb_grpc.AuthServiceStub(channel)
    users = user_grpc.UserServiceStub(channel)
    email, _ = await _signed_in(stub)
    refused: list[str] = []
    for _ in range(TRIALS):
        tokens = await _login(stub, email)
        request = pb.RefreshRequest(refresh_token=tokens.refresh_token)
        answers = await asyncio.gather(stub.Refresh(request), stub.Refresh(request), return_exceptions=True)
        for answer in answers:
            if isinstance(answer, grpc.aio.AioRpcError):
                refused.append(f"{answer.code().name}: {answer.details()}")
        if refused:
            break
        first, second = (a.tokens for a in answers if isinstance(a, pb.RefreshResponse))
        assert first.refresh_token == second.refresh_token != tokens.refresh_token
        assert first.session_id == second.session_id == tokens.session_id
        # Both tabs go on: the session is open and the shared new token rotates again.
        for pair in (first, second):
            bearer = (("authorization", f"Bearer {pair.access_token}"),)
            assert (await users.GetMe(user_pb.GetMeRequest(), metadata=bearer)).user.email == email
        await stub.Refresh(pb.RefreshRequest(refresh_token=first.refresh_token))
    assert refused == []
    user = identity.transactions.run_sync(lambda uow: uow.users.by_email(email))
    assert user is not None
    assert "auth.refresh.reuse_detected" not in audit_actions(identity, user.id)


async def test_a_replay_after_the_grace_window_still_ends_the_session(
    channel: grpc.aio.Channel, identity: Identity, clock: Clock
) -> None:
    stub = pb_grpc.AuthServiceStub(channel)
    users = user_grpc.UserServiceStub(channel)
    _, tokens = await _signed_in(stub)
    rotated = (await stub.Refresh(pb.RefreshRequest(refresh_token=tokens.refresh_token))).tokens
    clock.advance(identity.policy.refresh_grace_s + 1)
    for token in (tokens.refresh_token, rotated.refresh_token):  # the replay, then the family's newest
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Refresh(pb.RefreshRequest(refresh_token=token))
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as revoked:
        bearer = (("authorization", f"Bearer {rotated.access_token}"),)
        await users.GetMe(user_pb.GetMeRequest(), metadata=bearer)
    assert revoked.value.code() == grpc.StatusCode.UNAUTHENTICATED
