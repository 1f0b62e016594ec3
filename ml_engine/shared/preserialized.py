"""Registering a service whose handlers may answer with the response already in wire form.

A long series is cheapest sent as bytes built straight from its numpy arrays: building a message
from them and serialising it again copies every number twice more (for 100k bars of five
indicators, about 8 MB, that round trip cost several times TA-Lib's own time). A method listed in
`preserialized` may return `bytes` (a serialised response message; protobuf takes its fields in
any order); a message still works.
"""

from __future__ import annotations

from collections.abc import Collection
from types import ModuleType
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.message import Message


def serialized(message: bytes | Message) -> bytes:
    """A response serializer that sends bytes the handler built as they are."""
    return message if isinstance(message, bytes) else message.SerializeToString()


def add_service(
    module: ModuleType, service_name: str, handlers: object, server: Any, preserialized: Collection[str]
) -> None:
    """The generated `add_<Service>Servicer_to_server` for the unary and server-streaming methods
    of `service_name` in the generated `module`, except that those in `preserialized` may answer
    bytes."""
    service = module.DESCRIPTOR.services_by_name[service_name]
    methods: dict[str, grpc.RpcMethodHandler] = {}
    for method in service.methods:
        request_class = message_factory.GetMessageClass(method.input_type)
        response_class = message_factory.GetMessageClass(method.output_type)
        make = (
            grpc.unary_stream_rpc_method_handler
            if method.server_streaming
            else grpc.unary_unary_rpc_method_handler
        )
        methods[method.name] = make(
            getattr(handlers, method.name),
            request_deserializer=request_class.FromString,
            response_serializer=serialized
            if method.name in preserialized
            else response_class.SerializeToString,
        )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, methods),))
    server.add_registered_method_handlers(service.full_name, methods)
