"""Error mapping and the rendered Envoy config (pure functions, no servers)."""

from __future__ import annotations

from google.rpc import code_pb2, error_details_pb2

from gateway.envoy_config import EdgeSettings, render
from service_runtime import errors
from service_runtime.interceptors import to_status


def test_invalid_argument_becomes_bad_request_details() -> None:
    status = to_status(errors.InvalidArgument(errors.FieldViolation("symbol", "unknown symbol")))
    assert status.code == code_pb2.INVALID_ARGUMENT
    detail = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(detail)
    assert [(v.field, v.description) for v in detail.field_violations] == [("symbol", "unknown symbol")]


def test_dependency_unavailable_becomes_unavailable() -> None:
    assert to_status(errors.DependencyUnavailable("db down")).code == code_pb2.UNAVAILABLE
    assert to_status(errors.NotFound("no such symbol")).code == code_pb2.NOT_FOUND


def _routes() -> list[dict[str, object]]:
    config = render(EdgeSettings())
    manager = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    return manager["route_config"]["virtual_hosts"][0]["routes"]  # type: ignore[no-any-return]


def test_only_reads_are_retried() -> None:
    retried = {r["match"].get("path") for r in _routes() if "retry_policy" in r["route"]}  # type: ignore[index, operator, union-attr]
    assert "/trading.ml.v1.EngineService/GetStats" in retried
    assert "/trading.status.v1.StatusService/GetHealth" in retried
    prefix_routes = [r for r in _routes() if str(r["match"].get("prefix", "")).startswith("/trading.")]  # type: ignore[union-attr]
    assert prefix_routes and all("retry_policy" not in r["route"] for r in prefix_routes)  # type: ignore[operator]


def test_admin_listens_on_loopback_only() -> None:
    admin = render(EdgeSettings())["admin"]["address"]["socket_address"]
    assert admin["address"] == "127.0.0.1"


def test_ml_routes_are_bounded_by_the_seed_timeout() -> None:
    ml = [r for r in _routes() if r["route"]["cluster"] == "ml_engine"]  # type: ignore[index]
    assert ml and all(r["route"]["timeout"] == "30.0s" for r in ml)  # type: ignore[index]
