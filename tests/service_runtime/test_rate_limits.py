"""Per-plan rate limits through a real channel (in-process server, production interceptors): a
user's calls are counted per fixed window, the one over the plan's limit is refused with
RESOURCE_EXHAUSTED and RetryInfo until the window ends; pro gets more, service tokens are not
limited. In Redis, two replicas share one count (the `redis_url` fixture: TEST_REDIS_URL, or a
private redis-server)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import pytest
import redis

from service_runtime.in_process import serve_in_process
from service_runtime.rate_limits import (
    MemoryWindowCounter,
    PlanRateLimits,
    RateLimitInterceptor,
    RedisWindowCounter,
    WindowCounter,
)
from tests.support.in_process import TestCallers, retry_delay_s
from trading.ml.v1 import prediction_service_pb2 as pb
from trading.ml.v1 import prediction_service_pb2_grpc as pb_grpc

SERVICE = pb.DESCRIPTOR.services_by_name["PredictionService"].full_name
LIMITED = frozenset({f"/{SERVICE}/GetSignals"})
LIMITS = PlanRateLimits({"free": 3, "pro": 5}, default_plan="free", window_s=60)


class Signals(pb_grpc.PredictionServiceServicer):
    async def GetSignals(self, request: pb.GetSignalsRequest, context: Any) -> pb.GetSignalsResponse:
        return pb.GetSignalsResponse(symbol=request.symbol)

    async def GetPredictionScores(
        self, request: pb.GetPredictionScoresRequest, context: Any
    ) -> pb.GetPredictionScoresResponse:
        return pb.GetPredictionScoresResponse()


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0 + 15  # 15 s into a window

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def replica(
    callers: TestCallers, counter: WindowCounter, clock: Clock
) -> AsyncIterator[pb_grpc.PredictionServiceStub]:
    async with serve_in_process(
        service_names=[SERVICE],
        registrars=[lambda server: pb_grpc.add_PredictionServiceServicer_to_server(Signals(), server)],
        verifier=callers.verifier(),
        inner_interceptors=[RateLimitInterceptor(LIMITS, LIMITED, counter, clock)],
    ) as served:
        yield pb_grpc.PredictionServiceStub(served.channel)


async def signals(stub: pb_grpc.PredictionServiceStub, metadata: Any) -> grpc.StatusCode:
    try:
        await stub.GetSignals(pb.GetSignalsRequest(symbol="EURUSD"), metadata=metadata)
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def test_the_call_over_a_free_users_limit_is_refused_until_the_window_ends(
    callers: TestCallers,
) -> None:
    clock = Clock()
    free = callers.metadata(subject="free-user", plan="free")
    other = callers.metadata(subject="other-user", plan="free")
    async with replica(callers, MemoryWindowCounter(), clock) as stub:
        assert [await signals(stub, free) for _ in range(3)] == [grpc.StatusCode.OK] * 3
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.GetSignals(pb.GetSignalsRequest(symbol="EURUSD"), metadata=free)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "plan free: 3 ML requests per 60 s" in str(refused.value.details())
        assert retry_delay_s(refused.value) == 45  # the window ends 45 s from now
        # Per user: another free user still has their own three; RPCs not limited are not counted.
        assert await signals(stub, other) == grpc.StatusCode.OK
        await stub.GetPredictionScores(pb.GetPredictionScoresRequest(), metadata=free)
        clock.now += 45  # the next window
        assert await signals(stub, free) == grpc.StatusCode.OK


async def test_pro_gets_its_own_limit_admins_the_highest_and_services_none(callers: TestCallers) -> None:
    clock = Clock()
    pro = callers.metadata(subject="pro-user", plan="pro")
    admin = callers.metadata(subject="admin-1", roles=("admin",), plan="free")
    service = callers.metadata(subject="service:business", roles=("service",), plan="")
    async with replica(callers, MemoryWindowCounter(), clock) as stub:
        for who in (pro, admin):
            codes = [await signals(stub, who) for _ in range(6)]
            assert codes == [grpc.StatusCode.OK] * 5 + [grpc.StatusCode.RESOURCE_EXHAUSTED]
        assert [await signals(stub, service) for _ in range(20)] == [grpc.StatusCode.OK] * 20


async def test_replicas_share_the_count_in_redis_and_it_resets_with_the_window(
    callers: TestCallers, redis_url: str
) -> None:
    clock = Clock()
    prefix = f"test:ratelimit:{uuid.uuid4().hex}:"
    first, second = RedisWindowCounter(redis_url, prefix), RedisWindowCounter(redis_url, prefix)
    free = callers.metadata(subject="shared-user", plan="free")
    try:
        async with replica(callers, first, clock) as one, replica(callers, second, clock) as two:
            codes = [await signals(stub, free) for stub in (one, two, one, two)]
            assert codes == [grpc.StatusCode.OK] * 3 + [grpc.StatusCode.RESOURCE_EXHAUSTED]
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await one.GetSignals(pb.GetSignalsRequest(symbol="EURUSD"), metadata=free)
            assert retry_delay_s(refused.value) == 45
            clock.now += 45
            assert await signals(two, free) == grpc.StatusCode.OK
        keys = redis.Redis.from_url(redis_url).keys(prefix + "*")
        # One key per user and window, expiring with it.
        assert len(keys) == 2 and all(0 < redis.Redis.from_url(redis_url).ttl(k) <= 61 for k in keys)
    finally:
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
        client.close()
        await first.close()
        await second.close()
