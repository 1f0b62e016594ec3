"""Values no handler can use, found in a request before any handler runs: a string holding a NUL
character, a Timestamp outside 0001-01-01..9999-12-31 (what the Timestamp type allows).

No field of the API means anything with a NUL in it, and PostgreSQL refuses NUL in text columns
(psycopg: "cannot contain NUL"); a Timestamp out of range makes protobuf's ToDatetime raise. Either
would otherwise end as INTERNAL deep in a handler or a unit of work. The error interceptor
(service_runtime/interceptors.py) refuses them as INVALID_ARGUMENT naming the field by its path
(`legs[1].symbol`, `params.fast`).

Only the fields that can lead to a string or a Timestamp are visited, by descriptor: a request of
100,000 bars without either costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

from google.protobuf import descriptor

_STRING = descriptor.FieldDescriptor.TYPE_STRING
_MESSAGE = descriptor.FieldDescriptor.TYPE_MESSAGE
_TIMESTAMP = "google.protobuf.Timestamp"
# 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z in Unix seconds.
_MIN_SECONDS, _MAX_SECONDS = -62_135_596_800, 253_402_300_799


def _inner(field: descriptor.FieldDescriptor) -> descriptor.Descriptor:
    assert field.message_type is not None, "a message field has a message type"
    return field.message_type


def _is_map(field: descriptor.FieldDescriptor) -> bool:
    return field.type == _MESSAGE and _inner(field).GetOptions().map_entry


@cache
def _checked_fields(message_type: descriptor.Descriptor) -> tuple[descriptor.FieldDescriptor, ...]:
    """Fields of `message_type` that are strings or Timestamps, or lead to one."""
    return tuple(field for field in message_type.fields if _leads_to_checked(field, frozenset()))


def _leads_to_checked(field: descriptor.FieldDescriptor, visiting: frozenset[str]) -> bool:
    if field.type == _STRING:
        return True
    if field.type != _MESSAGE:
        return False
    inner = _inner(field)
    if inner.full_name == _TIMESTAMP or inner.full_name in visiting:  # recursive (Struct): may hold text
        return True
    return any(_leads_to_checked(each, visiting | {inner.full_name}) for each in inner.fields)


def _values(field: descriptor.FieldDescriptor, value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if _is_map(field):
        entry = _inner(field)
        for key, item in value.items():
            if entry.fields_by_name["key"].type == _STRING:
                yield path, key  # a key with a NUL is named by its map
            if entry.fields_by_name["value"].type in (_STRING, _MESSAGE):
                yield f"{path}.{key}", item
    elif field.is_repeated:
        for index, item in enumerate(value):
            yield f"{path}[{index}]", item
    else:
        yield path, value


def _fault(value: Any) -> str:
    if isinstance(value, str):
        return "must not contain NUL characters" if "\x00" in value else ""
    if value.DESCRIPTOR.full_name != _TIMESTAMP:
        return ""
    in_range = _MIN_SECONDS <= value.seconds <= _MAX_SECONDS and 0 <= value.nanos <= 999_999_999
    return "" if in_range else "must be a time between 0001-01-01 and 9999-12-31"


def unusable_value(request: Any, prefix: str = "") -> tuple[str, str] | None:
    """(path, why) of the first value in `request` no handler can use, or None."""
    for field in _checked_fields(request.DESCRIPTOR):
        if not field.is_repeated and field.type == _MESSAGE and not request.HasField(field.name):
            continue
        for path, value in _values(field, getattr(request, field.name), prefix + field.name):
            fault = _fault(value)
            if fault:
                return path, fault
            if not isinstance(value, str):
                found = unusable_value(value, path + ".")
                if found:
                    return found
    return None
