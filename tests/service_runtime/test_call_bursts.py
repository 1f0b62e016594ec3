"""A burst of calls arriving faster than the event loop takes them is served, not refused: gRPC's
backlog of calls not yet taken refused a random share as CANCELLED past 1,000 of them (94 of
2,000 stream subscribers in bench.ml part d); the service host raises its limits."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import grpc

from service_runtime.in_process import serve_in_process
from tests.support.in_process import TestCallers
from trading.ml.v1 import prediction_service_pb2 as pb
from trading.ml.v1 import prediction_service_pb2_grpc as pb_grpc

SERVICE = pb.DESCRIPTOR.services_by_name["PredictionService"].full_name
SUBSCRIBERS = 3000


class FirstMessageThenQuiet(pb_grpc.PredictionServiceServicer):
    async def StreamPredictions(
        self, request: pb.StreamPredictionsRequest, context: Any
    ) -> AsyncIterator[pb.StreamPredictionsResponse]:
        yield pb.StreamPredictionsResponse(symbol=request.symbol, sequence=1)
        await asyncio.Event().wait()


async def test_thousands_of_streams_opened_at_once_are_all_served(callers: TestCallers) -> None:
    async with serve_in_process(
        service_names=[SERVICE],
        registrars=[lambda s: pb_grpc.add_PredictionServiceServicer_to_server(FirstMessageThenQuiet(), s)],
        verifier=callers.verifier(),
    ) as served:
        stub = pb_grpc.PredictionServiceStub(served.channel)
        metadata = callers.metadata(plan="pro")
        calls = [
            stub.StreamPredictions(pb.StreamPredictionsRequest(symbol="EURUSD"), metadata=metadata)
            for _ in range(SUBSCRIBERS)
        ]

        async def first_message(call: Any) -> str:
            try:
                await call.read()
                return "OK"
            except grpc.aio.AioRpcError as error:
                return str(error.code().name)

        outcomes = Counter(await asyncio.gather(*(first_message(call) for call in calls)))
        for call in calls:
            call.cancel()
        assert outcomes == Counter({"OK": SUBSCRIBERS})
