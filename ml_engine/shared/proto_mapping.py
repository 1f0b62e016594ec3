"""Proto mapping helpers shared by the ml_engine handler modules (Timestamps come from
service_runtime.timestamps)."""

from __future__ import annotations

from ml_engine.shared.parameters import ParamSpec
from service_runtime.errors import InvalidArgument
from trading.market.v1 import indicator_service_pb2 as indicator_pb

# What a request's `limit` of 0 (unset) means.
DEFAULT_LIMIT = 500

PARAMETER_TYPES = {"int": indicator_pb.PARAMETER_TYPE_INTEGER, "float": indicator_pb.PARAMETER_TYPE_FLOAT}


def check_limit(limit: int, maximum: int, field: str = "limit") -> int:
    """A request's `limit`: DEFAULT_LIMIT when unset, else between 1 and `maximum` (INVALID_ARGUMENT)."""
    if limit == 0:
        return DEFAULT_LIMIT
    if not 1 <= limit <= maximum:
        raise InvalidArgument.field(field, f"must be between 1 and {maximum}, got {limit}")
    return limit


def parameter_proto(p: ParamSpec) -> indicator_pb.Parameter:
    """A catalogue parameter (indicators and strategies share the message)."""
    return indicator_pb.Parameter(
        name=p.name,
        type=PARAMETER_TYPES[p.type],
        default_value=p.default,
        min_value=p.min,
        max_value=p.max,
        description=p.description,
    )
