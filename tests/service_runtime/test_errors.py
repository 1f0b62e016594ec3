"""Error mapping: domain errors -> gRPC status with details (pure functions, no servers)."""

from __future__ import annotations

from google.rpc import code_pb2, error_details_pb2

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
