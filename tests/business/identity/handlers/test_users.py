"""UserService through a real server: the caller is the token's subject, never a request field."""

from __future__ import annotations

import grpc
import pytest

from business.identity.domain.context import Identity
from tests.business.identity.conftest import CLIENT, PASSWORD, new_email
from tests.business.identity.helpers import signed_in
from tests.support.in_process import violated_fields
from trading.identity.v1 import user_service_pb2 as pb
from trading.identity.v1 import user_service_pb2_grpc as pb_grpc


async def test_no_token_no_account(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await pb_grpc.UserServiceStub(channel).GetMe(pb.GetMeRequest())
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_the_signed_in_user_reads_and_updates_their_account(
    channel: grpc.aio.Channel, identity: Identity
) -> None:
    user, pair = await signed_in(identity, new_email())
    bearer = (("authorization", f"Bearer {pair.access_token}"),)
    stub = pb_grpc.UserServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await stub.UpdateMe(pb.UpdateMeRequest(phone_number="12345"), metadata=bearer)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(bad.value) == ["phone_number"]
    updated = await stub.UpdateMe(pb.UpdateMeRequest(display_name="Ada L."), metadata=bearer)
    assert updated.user.id == user.id and updated.user.display_name == "Ada L."

    listed = await stub.ListSessions(pb.ListSessionsRequest(), metadata=bearer)
    assert [(s.id, s.current) for s in listed.sessions] == [(pair.session_id, True)]
    assert listed.sessions[0].user_agent == CLIENT.user_agent
    assert listed.sessions[0].expires_at.ToDatetime() > listed.sessions[0].created_at.ToDatetime()

    with pytest.raises(grpc.aio.AioRpcError) as wrong:
        await stub.ChangePassword(
            pb.ChangePasswordRequest(current_password="not it at all", new_password=PASSWORD + "!"),
            metadata=bearer,
        )
    assert wrong.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(wrong.value) == ["current_password"]


async def test_disabling_2fa_needs_one_factor(channel: grpc.aio.Channel, identity: Identity) -> None:
    _, pair = await signed_in(identity, new_email())
    bearer = (("authorization", f"Bearer {pair.access_token}"),)
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await pb_grpc.UserServiceStub(channel).DisableTotp(pb.DisableTotpRequest(), metadata=bearer)
    assert missing.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(missing.value) == ["totp_code"]
