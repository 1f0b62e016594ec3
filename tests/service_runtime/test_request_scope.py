"""The scopes every call runs in (request id, verified caller): set on entry, reset on exit."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

from service_runtime.context import request_id_var
from service_runtime.interceptors import _RequestScope


class _Context:
    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return (("x-request-id", "req-1"),)

    def code(self) -> Any:
        return None


async def test_the_request_id_is_set_for_the_call_and_reset_after() -> None:
    scope = _RequestScope("/trading.ml.v1.PredictionService/StreamPredictions", _Context())  # type: ignore[arg-type]
    await scope.__aenter__()
    assert request_id_var.get() == "req-1"
    await scope.__aexit__(None, None, None)
    assert request_id_var.get() == ""


async def test_a_stream_closed_from_another_context_ends_quietly() -> None:
    # What the event loop's async-generator finaliser does with a stream whose client left: it
    # closes the handler in a task of its own, where the value set on entry does not exist.
    scope = _RequestScope("/trading.ml.v1.PredictionService/StreamPredictions", _Context())  # type: ignore[arg-type]
    await scope.__aenter__()
    closing = asyncio.get_running_loop().create_task(
        scope.__aexit__(None, None, None), context=contextvars.Context()
    )
    assert await closing is False


async def test_an_access_scope_closed_from_another_context_ends_quietly() -> None:
    from service_runtime.access import _AccessScope
    from service_runtime.caller import Caller, caller_var

    class Owner:
        async def admit(self, method: str, context: Any) -> Caller:
            return Caller("someone", frozenset({"user"}), "pro", issued_at=0)

    scope = _AccessScope(Owner(), "/trading.ml.v1.PredictionService/StreamPredictions", _Context())  # type: ignore[arg-type]
    await scope.__aenter__()
    assert caller_var.get() is not None
    closing = asyncio.get_running_loop().create_task(
        scope.__aexit__(None, None, None), context=contextvars.Context()
    )
    assert await closing is False
