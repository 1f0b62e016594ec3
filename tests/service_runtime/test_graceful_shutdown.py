"""SIGTERM handling of the shared ServiceHost: in-flight calls finish, new ones are refused."""

from __future__ import annotations

import asyncio
import socket

import grpc

from service_runtime.metrics import CallStats
from service_runtime.server import ServiceHost


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_stop_drains_in_flight_calls() -> None:
    started = asyncio.Event()

    async def slow(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        started.set()
        await asyncio.sleep(0.5)
        return b"done:" + request

    handler = grpc.method_handlers_generic_handler(
        "test.Slow", {"Wait": grpc.unary_unary_rpc_method_handler(slow)}
    )
    port = _free_port()
    host = ServiceHost(
        name="test",
        host="127.0.0.1",
        port=port,
        service_names=["test.Slow"],
        registrars=[lambda server: server.add_generic_rpc_handlers((handler,))],
        stats=CallStats("test"),
        grace_s=5,
    )
    await host.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary("/test.Slow/Wait")(b"x", timeout=10)
        await started.wait()
        stopping = asyncio.create_task(host.stop())
        assert await call == b"done:x"  # the in-flight call finished during the drain
        await stopping
        try:
            await channel.unary_unary("/test.Slow/Wait")(b"y", timeout=2)
            raise AssertionError("a call after shutdown succeeded")
        except grpc.aio.AioRpcError as error:
            assert error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
