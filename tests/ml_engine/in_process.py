"""ml_engine handlers served as clients reach them (service_runtime.in_process: a real server on
port 0 behind the production interceptors), and what tests read back from a refused call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc

from service_runtime.in_process import serve_in_process
from service_runtime.server import Registrar
from tests.support.in_process import TestCallers


@asynccontextmanager
async def serve(service: str, register: Registrar, callers: TestCallers) -> AsyncIterator[grpc.aio.Channel]:
    """`service` (its full name; its access rules come from its proto) on an in-process server
    trusting `callers`' tokens; yields a channel to it."""
    async with serve_in_process(
        service_names=[service], registrars=[register], verifier=callers.verifier()
    ) as served:
        yield served.channel
