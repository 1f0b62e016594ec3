"""Identity's three services on a real in-process gRPC server, behind the production interceptors
(access rules, token verification, error mapping), over the `identity` of ../conftest.py whose
access tokens the server's verifier accepts; `counters`: attempt counters in process memory (the
embedded default) and in a real Redis (REDIS_URL)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import pytest

from business.identity.adapters.attempt_counters import MemoryAttemptCounters, RedisAttemptCounters
from business.identity.domain.context import Identity
from business.identity.domain.ports import AttemptCounters
from business.identity.handlers.admin import AdminHandlers
from business.identity.handlers.auth import AuthHandlers
from business.identity.handlers.users import UserHandlers
from business.main import SERVICE_NAMES as BUSINESS_SERVICES
from service_runtime.in_process import serve_in_process
from service_runtime.signing_keys import SigningKeyStore
from tests.support.in_process import TestCallers
from trading.identity.v1 import auth_service_pb2_grpc, user_admin_service_pb2_grpc, user_service_pb2_grpc

SERVICE_NAMES = [name for name in BUSINESS_SERVICES if name.startswith("trading.identity.")]


@pytest.fixture
def keys(callers: TestCallers) -> SigningKeyStore:
    """Identity signs with the key the in-process server trusts."""
    return callers.keys


@pytest.fixture
async def channel(identity: Identity, callers: TestCallers) -> AsyncIterator[grpc.aio.Channel]:
    auth, users, admin = AuthHandlers(identity), UserHandlers(identity), AdminHandlers(identity)
    async with serve_in_process(
        service_names=SERVICE_NAMES,
        registrars=[
            lambda server: auth_service_pb2_grpc.add_AuthServiceServicer_to_server(auth, server),
            lambda server: user_service_pb2_grpc.add_UserServiceServicer_to_server(users, server),
            lambda server: user_admin_service_pb2_grpc.add_UserAdminServiceServicer_to_server(admin, server),
        ],
        verifier=callers.verifier(),
        revocations=identity.revocations,  # type: ignore[arg-type]  # MemoryRevocations in tests
    ) as served:
        yield served.channel


@pytest.fixture(params=["memory", "redis"])
async def counters(request: pytest.FixtureRequest) -> AsyncIterator[AttemptCounters]:
    if request.param == "memory":
        yield MemoryAttemptCounters()
        return
    prefix = f"test:{uuid.uuid4().hex}:"
    redis_counters = RedisAttemptCounters(request.getfixturevalue("redis_url"), prefix=prefix)
    try:
        yield redis_counters
    finally:
        keys = [key async for key in redis_counters.client.scan_iter(match=prefix + "*")]
        if keys:
            await redis_counters.client.delete(*keys)
        await redis_counters.close()
