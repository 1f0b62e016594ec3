"""The error envelope's codes are documented: every `error` the edge can answer with (Envoy's
own replies, a service's gRPC status, the gateway's) is in the table the OpenAPI and the README
show."""

from __future__ import annotations

from pathlib import Path

from envoy.http_filters import GRPC_CODES
from envoy.listener import LOCAL_REPLIES, OTHER_LOCAL_REPLY, SEED_UNAVAILABLE_MESSAGE
from gateway.error_envelope import ERROR_CODES
from gateway.errors import error_code

ROOT = Path(__file__).resolve().parents[2]


def test_every_code_the_edge_answers_with_is_documented() -> None:
    envoy = {reply.error for reply in (*LOCAL_REPLIES.values(), OTHER_LOCAL_REPLY)}
    services = {name for name in GRPC_CODES.values() if name != "ok"}
    gateway = {error_code(status) for status in (400, 401, 403, 404, 405, 409, 429, 500, 501, 503, 504)}
    seed = {"ML service unavailable", "Service unavailable"}  # the seed's 503, envoy/listener.py
    assert envoy | services | gateway | seed <= set(ERROR_CODES)
    assert SEED_UNAVAILABLE_MESSAGE == "Please try again later"


def test_the_readme_shows_the_codes_table() -> None:
    readme = (ROOT / "README.md").read_text()
    for code, (status, when) in ERROR_CODES.items():
        assert f"| `{code}` | {status} | {when} |" in readme, code
