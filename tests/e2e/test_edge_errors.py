"""What the edge answers when something is wrong, through Envoy (issue 13, items 8, 9 and 10):
one REST error envelope whoever answers, limits decided at the edge per route (413, 431), 404
JSON for unknown routes, nothing internal in any body, the request id assigned by the edge, and
an access log whose grpc_status is the service's."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from business.identity.admin_cli import create_admin
from tests.conftest import EDGE, ML_METRICS_PORT, bearer
from tests.e2e import grpc_web
from tests.e2e.accounts import PASSWORD, new_email, ok, post
from tests.e2e.edges import Edge, extra_edge
from tools.supervisor import Stack
from trading.ml.v1 import engine_service_pb2 as ml_pb
from trading.ml.v1 import engine_service_pb2_grpc as ml_grpc

ENVELOPE = {"error", "message", "details", "request_id"}
# What must never reach a client: Envoy's and gRPC's internal header names, header sizes,
# exception class names.
INTERNAL = re.compile(r"x-envoy|:authority|[\w-]+:\d+B\b|metadata size|Traceback|<class ")
MIB = 1024 * 1024


def envelope(reply: httpx.Response, status: int, error: str) -> dict[str, Any]:
    """The reply's body, checked to be the one envelope for `status` and `error`."""
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/json"), reply.headers
    body: dict[str, Any] = reply.json()
    assert set(body) == ENVELOPE and body["error"] == error, body
    assert isinstance(body["details"], list) and body["message"]
    assert body["request_id"] == reply.headers["x-request-id"]
    assert not INTERNAL.search(reply.text), reply.text
    return body


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nope"), ("GET", "/api/nope"), ("POST", "/api/v2/anything"), ("GET", "/.well-known/nope")],
)
def test_unknown_routes_are_404_json(stack: Stack, method: str, path: str) -> None:
    # Not a 401 "Jwt is missing" (text/plain): there is nothing here to authenticate for.
    envelope(httpx.request(method, f"{EDGE}{path}"), 404, "not_found")


def test_unknown_query_parameters_are_400_json(stack: Stack, token: str) -> None:
    reply = httpx.get(f"{EDGE}/api/stats?unknownParam=1", headers=bearer(token))
    assert "unknownParam" in envelope(reply, 400, "invalid_argument")["message"]


def test_bad_json_is_400_json(stack: Stack, token: str) -> None:
    reply = httpx.post(f"{EDGE}/api/stats:query", content=b'{"maxMethods": ', headers=bearer(token))
    envelope(reply, 400, "invalid_argument")


def test_a_service_error_keeps_its_field_violations(stack: Stack, token: str) -> None:
    reply = httpx.post(f"{EDGE}/api/stats:query", json={"maxMethods": 5000}, headers=bearer(token))
    body = envelope(reply, 400, "invalid_argument")
    assert body["message"] == "max_methods: must be between 0 and 1000"
    (bad_request,) = body["details"]
    assert bad_request["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert [v["field"] for v in bad_request["fieldViolations"]] == ["max_methods"]
    missing = httpx.get(f"{EDGE}/api/models/no_such_model", headers=bearer(token))
    envelope(missing, 404, "not_found")


def test_jwt_failures_are_the_envelope(stack: Stack) -> None:
    assert envelope(httpx.get(f"{EDGE}/api/stats"), 401, "unauthenticated")["message"] == "Jwt is missing"
    envelope(httpx.get(f"{EDGE}/api/stats", headers=bearer("not.a.jwt")), 401, "unauthenticated")


def _engine_calls() -> float:
    """GetStats calls the ML engine has handled, from its Prometheus counter."""
    text = httpx.get(f"http://127.0.0.1:{ML_METRICS_PORT}/metrics").text
    pattern = r'rpc_server_calls_total\{[^}]*method="/trading.ml.v1.EngineService/GetStats"[^}]*\} (\S+)'
    return sum(float(value) for value in re.findall(pattern, text))


def test_an_oversized_body_is_413_before_it_reaches_the_service(stack: Stack, token: str) -> None:
    before = _engine_calls()
    body = b'{"maxMethods": 1, "methodPrefix": "' + b"a" * (20 * MIB) + b'"}'
    reply = httpx.post(f"{EDGE}/api/stats:query", content=body, headers=bearer(token), timeout=60)
    # Not the service's 429 "Received message larger than max".
    envelope(reply, 413, "payload_too_large")
    with (
        grpc.insecure_channel(EDGE.removeprefix("http://")) as channel,
        pytest.raises(grpc.RpcError) as refused,
    ):
        ml_grpc.EngineServiceStub(channel).GetStats(
            ml_pb.GetStatsRequest(method_prefix="a" * MIB), metadata=tuple(bearer(token).items()), timeout=30
        )
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert _engine_calls() == before  # neither reached the engine


def test_body_limits_are_per_route(stack: Stack, token: str) -> None:
    # 200 KiB: too much for a stats query, fine for a CSV import, which the engine then answers
    # itself (a user may not import: 403 from the service, not 413 from the edge).
    csv = "time,open,high,low,close\n" + "2020-01-01,1,1,1,1\n" * 10_000
    stats = httpx.post(f"{EDGE}/api/stats:query", json={"methodPrefix": csv}, headers=bearer(token))
    envelope(stats, 413, "payload_too_large")
    imported = httpx.post(
        f"{EDGE}/api/admin/market/import",
        json={"csvContent": csv, "symbol": "X", "timeframe": "1d"},
        headers=bearer(token),
        timeout=30,
    )
    envelope(imported, 403, "permission_denied")


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"url": f"{EDGE}/api/stats?methodPrefix={'a' * 15_000}"},
        {"url": f"{EDGE}/health", "headers": {"x-padding": "p" * 9_000}},
    ],
)
def test_overlong_urls_and_headers_are_431_naming_nothing_internal(
    stack: Stack, token: str, request_kwargs: dict[str, Any]
) -> None:
    kwargs = dict(request_kwargs)
    reply = httpx.get(kwargs.pop("url"), headers={**bearer(token), **kwargs.get("headers", {})})
    # Not the service's 429 listing "x-envoy-original-path:15075B" and the other header sizes.
    assert reply.status_code == 431, reply.text
    body = reply.json()
    assert set(body) == ENVELOPE and body["error"] == "headers_too_large"
    assert body["request_id"] is None  # the request could not be read, so it has none
    assert not INTERNAL.search(reply.text), reply.text


def test_a_long_but_allowed_url_reaches_the_service(stack: Stack, token: str) -> None:
    # 7 KiB of query: under the edge's limit, so the service answers (its own 400), not gRPC's
    # metadata limit.
    reply = httpx.get(f"{EDGE}/api/stats?methodPrefix=/{'a' * 7_000}", headers=bearer(token))
    assert "method_prefix" in envelope(reply, 400, "invalid_argument")["message"]


@pytest.mark.parametrize("name", ["os.w+", "a|b", "x`y", "!s"])
def test_header_names_grpc_cannot_carry_are_dropped_not_a_500(stack: Stack, token: str, name: str) -> None:
    """Legal in HTTP, not in gRPC metadata: the service would refuse the call, INTERNAL "Illegal
    header key" (found by the contract fuzzer)."""
    reply = httpx.get(f"{EDGE}/api/symbols", headers={**bearer(token), name: "1"})
    assert reply.status_code == 200, reply.text
    web = grpc_web.call(
        f"{EDGE}/trading.ml.v1.EngineService/GetStats", ml_pb.GetStatsRequest(), {**bearer(token), name: "1"}
    )
    assert web.grpc_status == 0, web.grpc_message


# --- the request id (item 9) --------------------------------------------------------------


def _is_edge_id(value: str) -> bool:
    return re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", value) is not None


def test_the_edge_assigns_the_request_id_and_it_follows_the_call(stack: Stack) -> None:
    mine = "client-" + time.strftime("%H%M%S") + "-forged"
    reply = httpx.get(f"{EDGE}/health", headers={"x-request-id": mine})
    assert reply.status_code == 200
    request_id = reply.headers["x-request-id"]
    assert request_id != mine and _is_edge_id(request_id)
    assert stack.log_dir is not None
    deadline = time.monotonic() + 5
    for service in ("business", "ml_engine"):  # /health asks the engine too
        log = stack.log_dir / f"{service}.log"
        while f'"request_id": "{request_id}"' not in log.read_text():
            assert time.monotonic() < deadline, f"{service} never logged {request_id}"
            time.sleep(0.1)
        assert f'"request_id": "{mine}"' not in log.read_text(), service


def test_the_audit_log_records_the_edges_request_id_not_the_clients(stack: Stack) -> None:
    email = new_email()
    forged = {"x-request-id": "forged-" + email.split("@")[0]}
    registered = httpx.post(
        f"{EDGE}/api/auth/register", json={"email": email, "password": PASSWORD}, headers=forged, timeout=30
    )
    ok(registered)
    login = httpx.post(
        f"{EDGE}/api/auth/login", json={"email": email, "password": PASSWORD}, headers=forged, timeout=30
    )
    access = ok(login)["tokens"]["accessToken"]
    user_id = ok(httpx.get(f"{EDGE}/api/users/me", headers=bearer(access), timeout=30))["user"]["id"]
    admin_email = new_email()
    create_admin(stack.env["DATABASE_URL"], admin_email, "admin passphrase 1357", "Auditor")
    boss = ok(post("/api/auth/login", {"email": admin_email, "password": "admin passphrase 1357"}))
    events = ok(
        httpx.get(
            f"{EDGE}/api/admin/audit-events",
            params={"subjectId": user_id},
            headers=bearer(boss["tokens"]["accessToken"]),
            timeout=30,
        )
    )["events"]
    by_action = {e["action"]: e["requestId"] for e in events}
    assert by_action["auth.login.succeeded"] == login.headers["x-request-id"]
    assert all(_is_edge_id(e["requestId"]) for e in events), events
    assert forged["x-request-id"] not in str(events)


# --- the access log (item 10) -------------------------------------------------------------


@pytest.fixture(scope="module")
def logged_edge(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    """The same edge, with its access log written at once."""
    with extra_edge(stack, tmp_path_factory.mktemp("logged")) as edge:
        yield edge


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "grpc_status"),
    [
        ("POST", "/api/stats:query", {"maxMethods": 5000}, 400, "InvalidArgument"),
        ("GET", "/api/models/no_such_model", None, 404, "NotFound"),
        ("GET", "/api/stats", None, 200, "OK"),
    ],
)
def test_access_log_has_the_services_grpc_status_for_rest(
    logged_edge: Edge, token: str, method: str, path: str, body: Any, status: int, grpc_status: str
) -> None:
    reply = httpx.request(
        method,
        f"{logged_edge.url}{path}",
        json=body,
        headers={**bearer(token), "x-request-id": "mine-42"},
        timeout=30,
    )
    assert reply.status_code == status, reply.text
    entry = logged_edge.access_log(reply.headers["x-request-id"])
    assert (entry["status"], entry["grpc_status"]) == (status, grpc_status)  # 400 is not "Internal"
    assert entry["path"] == path and entry["client_request_id"] == "mine-42"


async def websocket_request_id(url: str) -> str:
    """The edge's request id of a WebSocket that the bridge closes at once (an unknown symbol)."""
    async with connect(url) as socket:
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(socket.recv(), 30)
        assert socket.response is not None
        return str(socket.response.headers["x-request-id"])


def test_access_log_keeps_a_websockets_token_out(logged_edge: Edge, token: str) -> None:
    """A browser's WebSocket carries its access token in the URL: the line has the path alone."""
    ws_url = logged_edge.url.replace("http://", "ws://")
    request_id = asyncio.run(websocket_request_id(f"{ws_url}/ws/NOPE?timeframe=1h&access_token={token}"))
    entry = logged_edge.access_log(request_id)
    assert entry["path"] == "/ws/NOPE" and entry["request_id"] == request_id
    assert token not in logged_edge.log.read_text()
