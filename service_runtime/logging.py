"""Structured JSON logs on stdout, one object per line, carrying the current request id."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from service_runtime.context import request_id_var

# Attributes every LogRecord has; anything else passed through `extra=` is emitted as a field.
# uvicorn's color_message duplicates msg with terminal colour codes.
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "color_message"}
# A browser's WebSocket carries its access token in the URL (?access_token=, gateway/ws_bridge.py),
# and uvicorn logs each WebSocket's URL: the token is cut from every line, whoever logs it.
_TOKEN_IN_URL = re.compile(r"(access_token=)[^&\s\"']+")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """`text` without the value of any `access_token=` URL parameter."""
    return _TOKEN_IN_URL.sub(rf"\g<1>{REDACTED}", text)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
