"""Look-ups over a FileDescriptorSet: messages and enums by full name, and their proto comments.

Works on the raw descriptor protos (not a DescriptorPool) because only they keep
source_code_info, where protoc stores the comments that become the API docs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

from trading.common.v1 import access_pb2

# Field numbers in FileDescriptorProto / DescriptorProto / ServiceDescriptorProto that
# source_code_info paths are made of.
_FILE_MESSAGE, _FILE_ENUM, _FILE_SERVICE = 4, 5, 6
_MSG_FIELD, _MSG_NESTED, _MSG_ENUM = 2, 3, 4
_ENUM_VALUE = 2
_SERVICE_METHOD = 2


HTTP_VERBS = frozenset({"get", "put", "post", "delete", "patch"})


@dataclass(frozen=True)
class HttpBinding:
    """One REST binding of an RPC (the main google.api.http rule or an additional one)."""

    verb: str
    template: str
    body: str
    response_body: str


def http_bindings(method: descriptor_pb2.MethodDescriptorProto) -> list[HttpBinding]:
    """The REST bindings declared on a method; empty when it has no google.api.http rule."""
    extension = cast("Any", annotations_pb2.http)  # the stubs type it as a plain FieldDescriptor
    if not method.options.HasExtension(extension):
        return []
    rule: http_pb2.HttpRule = method.options.Extensions[extension]
    out = []
    for r in [rule, *rule.additional_bindings]:
        kind = r.WhichOneof("pattern")
        if kind == "custom":
            verb, template = r.custom.kind.lower(), r.custom.path
        elif kind:
            verb, template = kind, getattr(r, kind)
        else:
            continue
        if verb in HTTP_VERBS:
            out.append(HttpBinding(verb, template, r.body, r.response_body))
    return out


def access_rule(method: descriptor_pb2.MethodDescriptorProto) -> access_pb2.AccessRule | None:
    """The method's `(trading.common.v1.access)` rule, None when it declares none."""
    extension = cast("Any", access_pb2.access)
    if not method.options.HasExtension(extension):
        return None
    rule: access_pb2.AccessRule = method.options.Extensions[extension]
    return rule


def is_public(method: descriptor_pb2.MethodDescriptorProto) -> bool:
    """Callable without an access token (the rule says `public: true`)."""
    rule = access_rule(method)
    return rule is not None and rule.public


def clean_comment(raw: str) -> str:
    """Proto comment -> text: lines of a paragraph joined, paragraphs kept apart."""
    paragraphs: list[list[str]] = [[]]
    for line in raw.strip().splitlines():
        line = line.strip()
        if line:
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    return "\n\n".join(" ".join(p) for p in paragraphs if p)


@dataclass
class ProtoIndex:
    files: list[descriptor_pb2.FileDescriptorProto]
    messages: dict[str, descriptor_pb2.DescriptorProto] = field(default_factory=dict)
    enums: dict[str, descriptor_pb2.EnumDescriptorProto] = field(default_factory=dict)
    # Comments keyed by full name: "pkg.Msg", "pkg.Msg.field", "pkg.Enum.VALUE",
    # "pkg.Service", "pkg.Service.Method".
    comments: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> ProtoIndex:
        fds = descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes())
        index = cls(files=list(fds.file))
        for file in index.files:
            index._add_file(file)
        return index

    def comment(self, full_name: str) -> str:
        return self.comments.get(full_name, "")

    def _add_file(self, file: descriptor_pb2.FileDescriptorProto) -> None:
        walk = _FileWalk(self, _comments_by_path(file))
        prefix = file.package + "." if file.package else ""
        for i, msg in enumerate(file.message_type):
            walk.add_message(msg, prefix + msg.name, (_FILE_MESSAGE, i))
        for i, enum in enumerate(file.enum_type):
            walk.add_enum(enum, prefix + enum.name, (_FILE_ENUM, i))
        for i, svc in enumerate(file.service):
            walk.note(prefix + svc.name, (_FILE_SERVICE, i))
            for j, method in enumerate(svc.method):
                walk.note(f"{prefix}{svc.name}.{method.name}", (_FILE_SERVICE, i, _SERVICE_METHOD, j))


def _comments_by_path(file: descriptor_pb2.FileDescriptorProto) -> dict[tuple[int, ...], str]:
    by_path: dict[tuple[int, ...], str] = {}
    for loc in file.source_code_info.location:
        text = loc.leading_comments or loc.trailing_comments
        if text.strip():
            by_path[tuple(loc.path)] = clean_comment(text)
    return by_path


class _FileWalk:
    """Records one file's messages, enums and their comments (keyed by source path) into an index."""

    def __init__(self, index: ProtoIndex, by_path: dict[tuple[int, ...], str]) -> None:
        self.index = index
        self.by_path = by_path

    def note(self, name: str, path: tuple[int, ...]) -> None:
        if path in self.by_path:
            self.index.comments[name] = self.by_path[path]

    def add_enum(self, enum: descriptor_pb2.EnumDescriptorProto, name: str, path: tuple[int, ...]) -> None:
        self.index.enums[name] = enum
        self.note(name, path)
        for i, value in enumerate(enum.value):
            self.note(f"{name}.{value.name}", (*path, _ENUM_VALUE, i))

    def add_message(self, msg: descriptor_pb2.DescriptorProto, name: str, path: tuple[int, ...]) -> None:
        self.index.messages[name] = msg
        self.note(name, path)
        for i, fld in enumerate(msg.field):
            self.note(f"{name}.{fld.name}", (*path, _MSG_FIELD, i))
        for i, nested in enumerate(msg.nested_type):
            self.add_message(nested, f"{name}.{nested.name}", (*path, _MSG_NESTED, i))
        for i, enum in enumerate(msg.enum_type):
            self.add_enum(enum, f"{name}.{enum.name}", (*path, _MSG_ENUM, i))
