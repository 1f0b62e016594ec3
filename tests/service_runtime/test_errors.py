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


def test_a_refusal_with_many_violations_stays_small() -> None:
    """Trailers are bounded: the first violations go out, the message counts the rest."""
    many = errors.InvalidArgument(
        *(
            errors.FieldViolation(f"content.modules[{i}].title", "is required " + "x" * 500)
            for i in range(400)
        )
    )
    status = to_status(many)
    detail = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(detail)
    assert (
        len(detail.field_violations) == 50 and detail.field_violations[0].field == "content.modules[0].title"
    )
    assert all(len(v.description) <= 300 for v in detail.field_violations)
    assert status.message.endswith("; and 390 more") and status.message.startswith(
        "content.modules[0].title: "
    )
    assert len(status.SerializeToString()) < 24 * 1024
    one = to_status(errors.InvalidArgument.field("symbol", "unknown symbol"))
    assert one.message == "symbol: unknown symbol"
