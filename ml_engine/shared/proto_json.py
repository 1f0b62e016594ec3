"""JSON answers the engine renders itself (REST routes answering `google.api.HttpBody`, which
Envoy's transcoder passes through untouched).

The JSON is what the transcoder would print for the same message with the edge's print options
(envoy/http_filters.py): lowerCamelCase names, every field without presence printed (empty
strings, zeros, empty lists), int64 as strings, Timestamps in RFC 3339. Long numeric series are
not in the message: they come as numpy arrays, which orjson writes straight from their buffers
(shortest round-trip doubles, about 0.1 us a number), instead of one protobuf value at a time (the
transcoder took about 1 us per number, and so did Python's own float repr).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import orjson
from google.api import httpbody_pb2
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message

JSON_CONTENT_TYPE = "application/json"
_NUMPY = orjson.OPT_SERIALIZE_NUMPY

# proto3 JSON's names for the doubles JSON has no number for.
_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def json_series(values: npt.NDArray[Any]) -> Any:
    """A numpy array as proto3 JSON values: int64 as strings, doubles as numbers (shortest
    round-trip form; NaN and infinities as their proto3 JSON strings). Whole arrays at once."""
    if np.issubdtype(values.dtype, np.integer):
        numbers = orjson.dumps(np.ascontiguousarray(values, dtype=np.int64), option=_NUMPY)
        # [1,2] -> ["1","2"]: the integers' digits, each quoted.
        return orjson.Fragment(b'["' + numbers[1:-1].replace(b",", b'","') + b'"]' if len(values) else b"[]")
    doubles = np.ascontiguousarray(values, dtype=np.float64)
    if np.isfinite(doubles).all():
        return doubles
    return [v if np.isfinite(v) else _NON_FINITE[repr(v)] for v in doubles.tolist()]


def bar_times_json(times: npt.NDArray[np.int64]) -> list[str]:
    """Epoch seconds as proto3 JSON Timestamps ("2018-01-09T20:00:00Z"), in one numpy call."""
    return [f"{t}Z" for t in np.datetime_as_string(times.astype("datetime64[s]"), unit="s").tolist()]


def _in_field_order(descriptor: Descriptor, tree: dict[str, Any]) -> dict[str, Any]:
    """`tree` with its keys in field-number order, as the transcoder prints them (json_format
    prints set fields first), down through singular message fields."""
    ordered: dict[str, Any] = {}
    for field in descriptor.fields:
        if field.json_name not in tree:
            continue
        value = tree[field.json_name]
        nested = field.message_type
        if nested is not None and isinstance(value, dict) and not nested.GetOptions().map_entry:
            value = _in_field_order(nested, value)
        ordered[field.json_name] = value
    return ordered


def render_json(message: Message, series: Mapping[str, Any] | None = None) -> httpbody_pb2.HttpBody:
    """`message` as the edge prints it, with each repeated field named in `series` (its JSON path,
    dots between names: "columns.close") taken from there instead: a numpy array (see json_series)
    or a list of JSON values. Those fields must be empty in `message` and their parents set."""
    tree = json_format.MessageToDict(message, always_print_fields_with_no_presence=True)
    for path, values in (series or {}).items():
        *parents, leaf = path.split(".")
        node = tree
        for name in parents:
            node = node[name]
        node[leaf] = json_series(values) if isinstance(values, np.ndarray) else values
    ordered = _in_field_order(cast(Descriptor, message.DESCRIPTOR), tree)
    body = orjson.dumps(ordered, option=_NUMPY)
    return httpbody_pb2.HttpBody(content_type=JSON_CONTENT_TYPE, data=body)
