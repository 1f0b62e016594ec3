"""ml_engine handlers served as clients reach them (service_runtime.in_process: a real server on
port 0 behind the production interceptors), and what tests read back from a refused call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from service_runtime.in_process import serve_in_process
from service_runtime.server import Registrar
from tests.support.in_process import TestCallers


@asynccontextmanager
async def serve(service: str, register: Registrar, callers: TestCallers) -> AsyncIterator[grpc.aio.Channel]:
    """`service` (its full name; its access rules come from its proto) on an in-process server
    trusting `callers`' tokens; yields a channel to it."""
    async with serve_in_process(
        service_names=[service], registrars=[register], verifier=callers.verifier()
    ) as channel:
        yield channel


def violations(error: grpc.aio.AioRpcError) -> list[tuple[str, str]]:
    """(field, description) of each field violation in a refused call's google.rpc.BadRequest."""
    status = rpc_status.from_call(error)
    assert status is not None, f"{error.code()} carries no google.rpc.Status: {error.details()}"
    bad_request = error_details_pb2.BadRequest()
    assert status.details and status.details[0].Unpack(bad_request)
    return [(v.field, v.description) for v in bad_request.field_violations]
