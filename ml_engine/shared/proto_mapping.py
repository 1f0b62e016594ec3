"""Proto mapping helpers shared by the ml_engine handler modules (Timestamps come from
service_runtime.timestamps)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

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


# --- packed series ---------------------------------------------------------------------------
# A packed repeated field on the wire is its tag, the payload's length and the values back to
# back (doubles as 8 little-endian bytes, integers as varints). Built here from numpy arrays in a
# few vector operations and merged into a message with MergeFromString, a 100k-point series costs
# a copy instead of 100k Python floats handed to protobuf one by one.


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _varint_size(value: int) -> int:
    return max(1, (value.bit_length() + 6) // 7)


def _field(number: int, payload: bytes) -> bytes:
    """The wire form of a length-delimited field `number` (wire type 2) holding `payload`."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload if payload else b""


# A message's wire form in pieces, joined once when the whole response is built: a long series
# is then copied once from its numpy array into the reply, not once per enclosing message. A piece
# is bytes or a byte view of an array (`bytes.join` reads either; len() is its size in bytes).
WireParts = list[bytes | memoryview]


def message_parts(number: int, parts: WireParts) -> WireParts:
    """Field `number` holding the message whose wire form is `parts` (always written, even empty)."""
    return [_varint(number << 3 | 2) + _varint(sum(len(part) for part in parts)), *parts]


def packed_double_parts(number: int, values: npt.ArrayLike) -> WireParts:
    """`repeated double` field `number` holding `values` (nothing when there are none). The values
    are a byte view of the array, not a copy: the reply's join is their only copy."""
    payload = np.ascontiguousarray(values, dtype="<f8").data.cast("B")
    return [_varint(number << 3 | 2) + _varint(len(payload)), payload] if len(payload) else []


def packed_doubles(number: int, values: npt.ArrayLike) -> bytes:
    """Wire form of `repeated double` field `number` holding `values`; merge it into the message."""
    return b"".join(packed_double_parts(number, values))


def packed_varints(number: int, values: npt.ArrayLike) -> bytes:
    """Wire form of `repeated int64` field `number` holding `values`. A negative value (a bar before
    1970) takes ten bytes, its two's complement as a uint64, as protobuf writes an int64."""
    v = np.ascontiguousarray(values, dtype=np.int64)
    if not len(v):
        return b""
    u = v.view(np.uint64)  # the same bits: negatives read as 2**64 + value, no copy
    low, high = _varint_size(int(u.min())), _varint_size(int(u.max()))
    # Bytes per value (all alike when the smallest and the largest agree, as for times).
    sizes = np.full(len(u), high, dtype=np.int64)
    if low != high:
        sizes[:] = 1
        for k in range(1, high):
            sizes += u >= np.uint64(1 << (7 * k))
    groups = np.empty((len(u), high), dtype=np.uint8)
    for k in range(high):
        seven = ((u >> np.uint64(7 * k)) & np.uint64(0x7F)).astype(np.uint8)
        groups[:, k] = (
            seven | 0x80 if k < low - 1 else seven | np.where(sizes > k + 1, 0x80, 0).astype(np.uint8)
        )
    if low == high:
        return _field(number, groups.tobytes())
    keep = np.arange(high)[None, :] < sizes[:, None]
    return _field(number, groups[keep].tobytes())
