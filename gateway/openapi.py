"""OpenAPI 3.0 document generated from the `google.api.http` annotations of the trading.* protos.

It describes the REST surface Envoy's grpc_json_transcoder serves from the same descriptor set:
path templates, query parameters from the remaining top-level scalar fields, `body`, and
proto3 JSON mapping for the schemas (lowerCamelCase names, 64-bit integers as strings, enums by
name, Timestamp as RFC 3339). No maintained generator runs offline from Python
(protoc-gen-openapiv2 is a Go plugin; the PyPI packages of that name only hold its option
protos), hence this small one.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from google.protobuf import descriptor_pb2

from gateway import error_envelope, field_rules
from gateway.error_envelope import error_responses
from service_runtime.proto_index import HttpBinding, ProtoIndex, access_rule, http_bindings

FDP = descriptor_pb2.FieldDescriptorProto
Schema = dict[str, Any]

API_PACKAGE_PREFIX = "trading."
BEARER = "bearerAuth"

# proto3 JSON mapping of scalar types: 64-bit integers travel as strings (JavaScript numbers
# lose precision past 2^53); uint32 needs more than OpenAPI's int32.
_SCALARS: dict[int, Schema] = {
    FDP.TYPE_DOUBLE: {"type": "number", "format": "double"},
    FDP.TYPE_FLOAT: {"type": "number", "format": "float"},
    FDP.TYPE_INT64: {"type": "string", "format": "int64", "pattern": r"^-?[0-9]{1,19}$"},
    FDP.TYPE_SINT64: {"type": "string", "format": "int64", "pattern": r"^-?[0-9]{1,19}$"},
    FDP.TYPE_SFIXED64: {"type": "string", "format": "int64", "pattern": r"^-?[0-9]{1,19}$"},
    FDP.TYPE_UINT64: {"type": "string", "format": "uint64", "pattern": r"^[0-9]{1,20}$"},
    FDP.TYPE_FIXED64: {"type": "string", "format": "uint64", "pattern": r"^[0-9]{1,20}$"},
    FDP.TYPE_INT32: {"type": "integer", "format": "int32"},
    FDP.TYPE_SINT32: {"type": "integer", "format": "int32"},
    FDP.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    FDP.TYPE_UINT32: {"type": "integer", "format": "int64", "minimum": 0},
    FDP.TYPE_FIXED32: {"type": "integer", "format": "int64", "minimum": 0},
    FDP.TYPE_BOOL: {"type": "boolean"},
    FDP.TYPE_STRING: {"type": "string"},
    FDP.TYPE_BYTES: {"type": "string", "format": "byte"},
}

# Well-known types have their own JSON forms; the scalar-like ones may also be query parameters.
_WKT_SCALAR: dict[str, Schema] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?\d+(\.\d+)?s$"},
    "google.protobuf.FieldMask": {"type": "string"},
    "google.protobuf.DoubleValue": {"type": "number", "format": "double", "nullable": True},
    "google.protobuf.FloatValue": {"type": "number", "format": "float", "nullable": True},
    "google.protobuf.Int64Value": {"type": "string", "format": "int64", "nullable": True},
    "google.protobuf.UInt64Value": {"type": "string", "format": "uint64", "nullable": True},
    "google.protobuf.Int32Value": {"type": "integer", "format": "int32", "nullable": True},
    "google.protobuf.UInt32Value": {"type": "integer", "format": "int64", "nullable": True},
    "google.protobuf.BoolValue": {"type": "boolean", "nullable": True},
    "google.protobuf.StringValue": {"type": "string", "nullable": True},
    "google.protobuf.BytesValue": {"type": "string", "format": "byte", "nullable": True},
}
_ANY_OBJECT: Schema = {
    "type": "object",
    "properties": {"@type": {"type": "string"}},
    "additionalProperties": True,
}
_WKT: dict[str, Schema] = {
    **_WKT_SCALAR,
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Any": _ANY_OBJECT,
}

_TEMPLATE_VAR = re.compile(r"\{([^}=]+)(?:=[^}]*)?\}")


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _summary(text: str) -> str:
    first = text.split("\n\n", 1)[0]
    match = re.match(r"(.+?\.)(\s|$)", first)
    return match.group(1) if match else first


def _is_query_scalar(fld: descriptor_pb2.FieldDescriptorProto) -> bool:
    if fld.type != FDP.TYPE_MESSAGE:
        return True
    return fld.type_name.lstrip(".") in _WKT_SCALAR


# A REST route whose service renders the JSON itself answers this (Envoy passes it through).
HTTP_BODY = "google.api.HttpBody"


def rendered_response(index: ProtoIndex, method: descriptor_pb2.MethodDescriptorProto) -> str:
    """The message a method's REST answer is the JSON of: its response type, or, for one answering
    google.api.HttpBody with an `XRequest`, the `XResponse` it renders (GetHistoryJson answers
    GetHistoryResponse's JSON)."""
    response = method.output_type.lstrip(".")
    request = method.input_type.lstrip(".")
    if response == HTTP_BODY and request.endswith("Request"):
        rendered = request.removesuffix("Request") + "Response"
        if rendered in index.messages:
            return rendered
    return response


class _Builder:
    def __init__(self, index: ProtoIndex) -> None:
        self.index = index
        self.schemas: dict[str, Schema] = {}
        # Messages a method takes: their schemas also say what the services refuse (field_rules).
        self.requests = {
            m.input_type.lstrip(".") for f in index.files for svc in f.service for m in svc.method
        }
        # ...and every message inside one: none takes a field it does not declare.
        self.request_parts = self._inside(self.requests)

    # ---- schemas -------------------------------------------------------------------------

    def type_schema(self, type_name: str) -> Schema:
        """Schema of a message or enum type: a $ref, created on first use."""
        name = type_name.lstrip(".")
        if name in _WKT:
            return copy.deepcopy(_WKT[name])
        if name not in self.schemas:
            self.schemas[name] = {}  # placeholder first, so recursive messages terminate
            if name in self.index.enums:
                self.schemas[name] = self._enum_schema(name)
            else:
                self.schemas[name] = self._message_schema(name)
        return _ref(name)

    def _enum_schema(self, name: str) -> Schema:
        enum = self.index.enums[name]
        lines = [self.index.comment(name)] if self.index.comment(name) else []
        for value in enum.value:
            doc = self.index.comment(f"{name}.{value.name}")
            if doc:
                lines.append(f"- `{value.name}`: {doc}")
        schema: Schema = {"type": "string", "enum": [v.name for v in enum.value]}
        if lines:
            schema["description"] = "\n".join(lines)
        return schema

    def properties(self, name: str, skip: frozenset[str] = frozenset()) -> dict[str, Schema]:
        msg = self.index.messages[name]
        return {f.json_name or f.name: self.field_schema(name, f) for f in msg.field if f.name not in skip}

    def _inside(self, roots: set[str]) -> set[str]:
        seen: set[str] = set()
        pending = [r for r in roots if r in self.index.messages]
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            for fld in self.index.messages[name].field:
                inner = fld.type_name.lstrip(".")
                if fld.type == FDP.TYPE_MESSAGE and inner in self.index.messages and inner not in _WKT:
                    pending.append(inner)
        return seen - roots

    def request_constraints(self, name: str, skip: frozenset[str] = frozenset()) -> Schema:
        """What a request message's JSON must satisfy as a whole: its required fields
        (field_rules.REQUIRED), at most one member of each oneof (exactly one where
        field_rules.REQUIRED_ONEOFS says so), and only the message's fields: the edge ignores a
        field it does not know (and refuses an empty name), so sending one is a mistake, never an
        effect."""
        msg = self.index.messages[name]
        json_names = {f.name: f.json_name or f.name for f in msg.field}
        constraints: Schema = {"additionalProperties": False}

        def with_companions(field: str) -> list[str]:
            return [json_names[f] for f in (field, *field_rules.REQUIRED_WITH.get(f"{name}.{field}", ()))]

        required = [json_names[f] for f in field_rules.REQUIRED.get(name, ()) if f not in skip]
        if required:
            constraints["required"] = required
        groups: list[Schema] = []
        for i, oneof in enumerate(msg.oneof_decl):
            fields = [
                f.name
                for f in msg.field
                if f.HasField("oneof_index") and f.oneof_index == i and not f.proto3_optional
            ]
            if len(fields) < 2:
                continue
            members = [json_names[f] for f in fields]
            pairs = [[a, b] for n, a in enumerate(members) for b in members[n + 1 :]]
            groups.append({"not": {"anyOf": [{"required": pair} for pair in pairs]}})
            if oneof.name in field_rules.REQUIRED_ONEOFS.get(name, ()):
                groups.append({"anyOf": [{"required": with_companions(f)} for f in fields]})
        if len(groups) == 1:
            constraints.update(groups[0])
        elif groups:
            constraints["allOf"] = groups
        return constraints

    def _message_schema(self, name: str) -> Schema:
        msg = self.index.messages[name]
        schema: Schema = {"type": "object", "properties": self.properties(name)}
        if name in self.requests:
            schema.update(self.request_constraints(name))
        elif name in self.request_parts and not msg.options.map_entry:
            schema["additionalProperties"] = False
            required = [
                f.json_name or f.name for f in msg.field if f.name in field_rules.REQUIRED.get(name, ())
            ]
            if required:
                schema["required"] = required
        notes = [self.index.comment(name)] if self.index.comment(name) else []
        for i, oneof in enumerate(msg.oneof_decl):
            members = [
                f.json_name
                for f in msg.field
                if f.HasField("oneof_index") and f.oneof_index == i and not f.proto3_optional
            ]
            if len(members) > 1:
                notes.append(f"At most one of {', '.join(members)} is set ({oneof.name}).")
        if notes:
            schema["description"] = "\n\n".join(notes)
        return schema

    def field_schema(
        self, owner: str, fld: descriptor_pb2.FieldDescriptorProto, describe: bool = True
    ) -> Schema:
        entry = self.index.messages.get(fld.type_name.lstrip("."))
        if entry is not None and entry.options.map_entry:
            schema: Schema = {
                "type": "object",
                "additionalProperties": self._single(entry.field[1]),
            }
        elif fld.label == FDP.LABEL_REPEATED:
            schema = {"type": "array", "items": self._single(fld)}
        else:
            schema = self._single(fld)
        checked = field_rules.rule(owner, fld.name)
        if checked:
            # What the services refuse beyond the type (field_rules.py); beside a $ref, in allOf.
            schema = {"allOf": [schema], **checked} if "$ref" in schema else {**schema, **checked}
        doc = self.index.comment(f"{owner}.{fld.name}") if describe else ""
        if doc:
            # OpenAPI 3.0 ignores siblings of $ref; allOf keeps the description.
            schema = {"allOf": [schema]} if "$ref" in schema else schema
            schema["description"] = doc
        return schema

    def _single(self, fld: descriptor_pb2.FieldDescriptorProto) -> Schema:
        if fld.type in (FDP.TYPE_MESSAGE, FDP.TYPE_ENUM):
            return self.type_schema(fld.type_name)
        return dict(_SCALARS[fld.type])

    def lookup(self, message: str, dotted: str) -> tuple[str, descriptor_pb2.FieldDescriptorProto] | None:
        """Field at a dotted path ("book.name") below a message, with its owning message."""
        owner = message
        fld = None
        for part in dotted.split("."):
            if fld is not None:
                owner = fld.type_name.lstrip(".")
            msg = self.index.messages.get(owner)
            fld = next((f for f in msg.field if f.name == part), None) if msg else None
            if fld is None:
                return None
        return (owner, fld) if fld is not None else None

    # ---- operations ----------------------------------------------------------------------

    def operation(
        self,
        service: str,
        method: descriptor_pb2.MethodDescriptorProto,
        binding: HttpBinding,
    ) -> dict[str, Any]:
        request = method.input_type.lstrip(".")
        doc = self.index.comment(f"{service}.{method.name}")
        op: dict[str, Any] = {"summary": _summary(doc) or method.name}
        if doc and doc != op["summary"]:
            op["description"] = doc
        op["x-grpc-method"] = f"/{service}/{method.name}"

        path_vars = _TEMPLATE_VAR.findall(binding.template)
        bound = frozenset(v.split(".")[0] for v in path_vars)
        params: list[dict[str, Any]] = []
        for var in path_vars:
            found = self.lookup(request, var)
            schema = self.field_schema(*found, describe=False) if found else {"type": "string"}
            param = {"name": var, "in": "path", "required": True, "schema": schema}
            if found and self.index.comment(f"{found[0]}.{found[1].name}"):
                param["description"] = self.index.comment(f"{found[0]}.{found[1].name}")
            params.append(param)

        if binding.body != "*" and request in self.index.messages:
            for fld in self.index.messages[request].field:
                if fld.name in bound or fld.name == binding.body or not _is_query_scalar(fld):
                    continue
                param = {
                    "name": fld.name,
                    "in": "query",
                    "required": fld.name in field_rules.REQUIRED.get(request, ()),
                    "schema": self.field_schema(request, fld, describe=False),
                }
                if self.index.comment(f"{request}.{fld.name}"):
                    param["description"] = self.index.comment(f"{request}.{fld.name}")
                params.append(param)
        if params:
            op["parameters"] = params

        body_schema: Schema | None = None
        if binding.body == "*":
            body_schema = (
                {
                    "type": "object",
                    "properties": self.properties(request, skip=bound),
                    **self.request_constraints(request, skip=bound),
                }
                if bound
                else self.type_schema(request)
            )
        elif binding.body:
            found = self.lookup(request, binding.body)
            body_schema = self.field_schema(*found, describe=False) if found else {}
        if body_schema is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": body_schema}},
            }

        op["responses"] = self._responses(method, binding)
        return op

    def _responses(
        self, method: descriptor_pb2.MethodDescriptorProto, binding: HttpBinding
    ) -> dict[str, Any]:
        response = rendered_response(self.index, method)
        schema: Schema = self.type_schema(response)
        if binding.response_body:
            found = self.lookup(response, binding.response_body)
            schema = self.field_schema(*found, describe=False) if found else {}
        ok = "OK"
        if method.server_streaming:
            schema = {"type": "array", "items": schema}
            ok = (
                "A stream of messages: a JSON array, or one JSON object per line where the "
                "proxy streams newline-delimited JSON."
            )
        return {
            "200": {"description": ok, "content": {"application/json": {"schema": schema}}},
            # Errors: the edge's one envelope (gateway/error_envelope.py).
            **error_responses(),
        }


def build_openapi(index: ProtoIndex, title: str = "Trading platform API") -> dict[str, Any]:
    """The OpenAPI 3.0 document of every annotated method of every trading.* service."""
    builder = _Builder(index)
    files = [f for f in index.files if f.package.startswith(API_PACKAGE_PREFIX)]
    short_names = [svc.name for f in files for svc in f.service]
    paths: dict[str, dict[str, Any]] = {}
    tags: list[dict[str, str]] = []
    for file in files:
        for svc in file.service:
            full = f"{file.package}.{svc.name}"
            # Short names read better; fall back to the full name when two packages share one.
            tag = svc.name if short_names.count(svc.name) == 1 else full
            tag_entry = {"name": tag}
            if index.comment(full):
                tag_entry["description"] = index.comment(full)
            tags.append(tag_entry)
            for method in svc.method:
                for n, binding in enumerate(http_bindings(method)):
                    path = _TEMPLATE_VAR.sub(lambda m: "{" + m.group(1) + "}", binding.template)
                    op = builder.operation(full, method, binding)
                    op_id = f"{tag.replace('.', '_')}_{method.name}" + (f"_{n}" if n else "")
                    op = {"tags": [tag], "operationId": op_id, **op}
                    rule = access_rule(method)
                    if rule is None or not rule.public:
                        op["security"] = [{BEARER: []}]
                        if rule is not None:
                            op["x-required-roles"] = list(rule.roles)
                    paths.setdefault(path, {}).setdefault(binding.verb, op)
    versions = sorted({f.package.rsplit(".", 1)[-1] for f in files}) or ["v1"]
    return {
        "openapi": "3.0.3",
        "info": {
            "title": title,
            "version": ", ".join(versions),
            "description": "REST/JSON surface of the platform's gRPC services, served by the "
            "Envoy front proxy by transcoding. Generated from the protobuf contracts. Every error "
            "answer, whoever gives it (Envoy, a service, the gateway), is the Error schema.",
        },
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": {
                **dict(sorted(builder.schemas.items())),
                error_envelope.SCHEMA_NAME: error_envelope.schema(),
            },
            "securitySchemes": {BEARER: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
