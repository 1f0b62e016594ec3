"""Which field of a request the protobuf parser refused.

A request that does not parse never reaches a handler: gRPC calls the deserializer before any
interceptor's wrapper runs, and an exception there would leave the process as an UNKNOWN status
carrying the exception's class name. The error interceptor (service_runtime/interceptors.py)
parses requests itself and, on failure, asks `undecodable_field` which field to name in its
INVALID_ARGUMENT. Envoy's JSON transcoder can produce such bytes from a JSON body it accepts, for
example `{"params": {"x": {}}}` for a `map<string, double>`.

The answer comes from the wire format: each top-level field's bytes are parsed alone; the first
that fails is the culprit, and the search goes on inside it when it is a message or a map entry
(`params.x`, `legs.price`).
"""

from __future__ import annotations

from collections.abc import Iterator

from google.protobuf import descriptor, message, message_factory

WIRE_VARINT, WIRE_I64, WIRE_LEN, WIRE_SGROUP, WIRE_EGROUP, WIRE_I32 = 0, 1, 2, 3, 4, 5


class _Malformed(Exception):
    """The bytes are not even a sequence of well-formed fields."""


def _varint(raw: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if at >= len(raw) or shift > 63:
            raise _Malformed
        byte = raw[at]
        value |= (byte & 0x7F) << shift
        at += 1
        shift += 7
        if not byte & 0x80:
            return value, at


def _fields(raw: bytes) -> Iterator[tuple[int, int, bytes, bytes]]:
    """(field number, wire type, the field's whole encoding, its payload) of each field. A field
    cut short by the end of the bytes is the last one yielded, as far as it goes."""
    at = 0
    while at < len(raw):
        start = at
        key, at = _varint(raw, at)
        number, wire = key >> 3, key & 7
        if number == 0 or wire not in (WIRE_VARINT, WIRE_I64, WIRE_LEN, WIRE_I32):
            raise _Malformed  # groups are proto2 only; the rest are not wire types at all
        payload_start = at
        try:
            if wire == WIRE_VARINT:
                _, at = _varint(raw, at)
            elif wire == WIRE_LEN:
                length, payload_start = _varint(raw, at)
                at = payload_start + length
            else:
                at += 8 if wire == WIRE_I64 else 4
        except _Malformed:
            at = len(raw) + 1
        yield number, wire, raw[start:at], raw[payload_start:at]


def _parses(message_type: descriptor.Descriptor, raw: bytes) -> bool:
    try:
        message_factory.GetMessageClass(message_type).FromString(raw)
    except message.DecodeError:
        return False
    return True


def _map_key(entry: descriptor.Descriptor, payload: bytes) -> str:
    """The key of one map entry, as text ("" when it cannot be read)."""
    key_field = entry.fields_by_number[1]
    try:
        for number, _, _, key_payload in _fields(payload):
            if number != 1:
                continue
            if key_field.type == descriptor.FieldDescriptor.TYPE_STRING:
                return key_payload.decode("utf-8", errors="replace")
            return str(_varint(key_payload, 0)[0])
    except _Malformed:
        return ""
    return ""


def _inside(fld: descriptor.FieldDescriptor, payload: bytes) -> str:
    """The dotted path below `fld` that fails, "" when the field as a whole is the culprit."""
    inner = fld.message_type
    if inner is None:
        return ""
    if inner.GetOptions().map_entry:
        key = _map_key(inner, payload)
        value = inner.fields_by_number[2]
        deeper = _culprit(value.message_type, payload_of(payload, 2)) if value.message_type else ""
        return ".".join(part for part in (key, deeper) if part)
    return _culprit(inner, payload)


def payload_of(raw: bytes, number: int) -> bytes:
    """The payload of the last occurrence of field `number` in `raw` (b"" if absent)."""
    found = b""
    try:
        for n, _, _, payload in _fields(raw):
            if n == number:
                found = payload
    except _Malformed:
        return b""
    return found


def _culprit(message_type: descriptor.Descriptor, raw: bytes) -> str:
    try:
        fields = list(_fields(raw))
    except _Malformed:
        return ""
    for number, wire, encoded, payload in fields:
        fld = message_type.fields_by_number.get(number)
        if fld is None or _parses(message_type, encoded):
            continue
        deeper = _inside(fld, payload) if wire == WIRE_LEN else ""
        return f"{fld.name}.{deeper}" if deeper else fld.name
    return ""


def undecodable_field(message_type: descriptor.Descriptor, raw: bytes) -> str:
    """The dotted path of the field whose bytes do not parse as `message_type` ("" if none
    stands out, e.g. bytes that are not protobuf at all)."""
    return _culprit(message_type, raw)
