"""The JSON log lines: an access token a WebSocket URL carries never reaches a log."""

from __future__ import annotations

import json
import logging

from service_runtime.logging import REDACTED, JsonFormatter


def formatted(message: str, *args: object) -> dict[str, str]:
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, message, args, None)
    return dict(json.loads(JsonFormatter("gateway").format(record)))


def test_an_access_token_in_a_logged_url_is_redacted() -> None:
    token = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJl"
    # What uvicorn logs for each WebSocket it accepts (its format and arguments).
    entry = formatted(
        '%s - "WebSocket %s" [accepted]', "127.0.0.1:45918", f"/ws/EURUSD?timeframe=1h&access_token={token}"
    )
    assert token not in json.dumps(entry)
    assert (
        entry["msg"]
        == f'127.0.0.1:45918 - "WebSocket /ws/EURUSD?timeframe=1h&access_token={REDACTED}" [accepted]'
    )
    first = formatted(f"GET /ws/EURUSD?access_token={token}&timeframe=5m")
    assert first["msg"] == f"GET /ws/EURUSD?access_token={REDACTED}&timeframe=5m"


def test_other_messages_are_left_as_they_are() -> None:
    assert (
        formatted("GET /api/history/EURUSD?limit=5&packed=true")["msg"]
        == "GET /api/history/EURUSD?limit=5&packed=true"
    )
