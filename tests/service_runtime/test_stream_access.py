"""An open stream ends with UNAUTHENTICATED once its token is revoked or expires (issue 13.2)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from service_runtime.in_process import serve_in_process
from service_runtime.revocations import MemoryRevocations
from tests.support.in_process import TestCallers
from trading.ml.v1 import prediction_service_pb2 as pb
from trading.ml.v1 import prediction_service_pb2_grpc as pb_grpc

SERVICE = pb.DESCRIPTOR.services_by_name["PredictionService"].full_name
RECHECK_S = 0.2


class EndlessStream(pb_grpc.PredictionServiceServicer):
    """A bar every `pause_s`, forever: only the access check can end it. With no pause, messages
    as fast as gRPC takes them: the streaming task then spends most of its time inside gRPC's own
    send, where the access check's end must not land (it left the call without a status, and the
    client waited for ever)."""

    def __init__(self, pause_s: float = 0.05) -> None:
        self.pause_s = pause_s

    async def StreamPredictions(
        self, request: pb.StreamPredictionsRequest, context: Any
    ) -> AsyncIterator[pb.StreamPredictionsResponse]:
        sequence = 0
        while True:
            sequence += 1
            yield pb.StreamPredictionsResponse(symbol=request.symbol, sequence=sequence)
            if self.pause_s:
                await asyncio.sleep(self.pause_s)


async def _read_until_closed(call: Any, within_s: float = 10) -> tuple[int, grpc.aio.AioRpcError]:
    """Messages read until the stream ended with an error (it must, within `within_s`)."""
    received = 0
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        async with asyncio.timeout(within_s):
            while await call.read() is not grpc.aio.EOF:
                received += 1
    return received, ended.value


async def test_a_revoked_session_ends_its_open_stream(callers: TestCallers) -> None:
    revocations = MemoryRevocations(ttl_s=60)
    async with serve_in_process(
        service_names=[SERVICE],
        registrars=[lambda s: pb_grpc.add_PredictionServiceServicer_to_server(EndlessStream(), s)],
        verifier=callers.verifier(),
        revocations=revocations,
        stream_recheck_s=RECHECK_S,
    ) as served:
        stub = pb_grpc.PredictionServiceStub(served.channel)
        kept = stub.StreamPredictions(
            pb.StreamPredictionsRequest(symbol="EURUSD"),
            metadata=callers.metadata(session_id="other", plan="pro"),
        )
        call = stub.StreamPredictions(
            pb.StreamPredictionsRequest(symbol="EURUSD"),
            metadata=callers.metadata(session_id="s-1", plan="pro"),
        )
        await call.read()  # the stream is open and flowing
        await revocations.revoke_session("s-1")
        revoked_at = time.monotonic()
        _, error = await _read_until_closed(call)
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "revoked" in (error.details() or "")
        assert time.monotonic() - revoked_at < RECHECK_S * 5
        # Another session's stream is untouched.
        first = await kept.read()
        second = await kept.read()
        assert second.sequence > first.sequence
        kept.cancel()


async def test_an_expiring_token_ends_its_open_stream(callers: TestCallers) -> None:
    async with serve_in_process(
        service_names=[SERVICE],
        registrars=[lambda s: pb_grpc.add_PredictionServiceServicer_to_server(EndlessStream(), s)],
        verifier=callers.verifier(),
        stream_recheck_s=30,  # expiry is watched to the second, whatever the recheck interval
    ) as served:
        stub = pb_grpc.PredictionServiceStub(served.channel)
        started = time.monotonic()
        call = stub.StreamPredictions(
            pb.StreamPredictionsRequest(symbol="EURUSD"), metadata=callers.metadata(ttl_s=2, plan="pro")
        )
        received, error = await _read_until_closed(call)
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "expired" in (error.details() or "")
        assert received > 5
        assert time.monotonic() - started < 4


async def test_an_expiring_token_ends_a_busy_stream_with_a_status(callers: TestCallers) -> None:
    async with serve_in_process(
        service_names=[SERVICE],
        registrars=[lambda s: pb_grpc.add_PredictionServiceServicer_to_server(EndlessStream(pause_s=0), s)],
        verifier=callers.verifier(),
    ) as served:
        stub = pb_grpc.PredictionServiceStub(served.channel)
        calls = [
            stub.StreamPredictions(
                pb.StreamPredictionsRequest(symbol="EURUSD"), metadata=callers.metadata(ttl_s=2, plan="pro")
            )
            for _ in range(12)
        ]
        ends = await asyncio.gather(*(_read_until_closed(call, within_s=8) for call in calls))
        assert [error.code() for _, error in ends] == [grpc.StatusCode.UNAUTHENTICATED] * len(calls)
        assert all(received > 0 for received, _ in ends)
