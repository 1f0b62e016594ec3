"""The KServe v2 / Open Inference Protocol (`inference.GRPCInferenceService`) on the ML engine's
gRPC port, so standard clients (tritonclient, KServe) call our models unchanged.

It serves the model repository's raw ONNX inputs and outputs, exactly as NVIDIA Triton would
serve the same folder: the client sends the already-normalized input tensor. Only the probes
are open; everything else needs a user, admin or service token (see INFERENCE_RULES)."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import grpc
import numpy as np
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as pb_grpc

from ml_engine.config import SERVICE_VERSION
from ml_engine.models.serving.errors import ModelUnavailable
from ml_engine.models.serving.registry import ModelRegistry
from ml_engine.models.serving.session import ModelSession, TensorInfo
from service_runtime.access import ForeignRules, declare_foreign_rules
from service_runtime.errors import InvalidArgument, NotFound
from trading.common.v1 import access_pb2

SERVICE_NAME: str = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name
SERVER_NAME = "trading-ml-engine"
PLATFORM = "onnxruntime_onnx"

_PROBES = ("ServerLive", "ServerReady", "ModelReady")
_CALLS = ("ServerMetadata", "ModelMetadata", "ModelInfer")
INFERENCE_RULES = ForeignRules(
    rules={
        **{m: access_pb2.AccessRule(public=True) for m in _PROBES},
        **{m: access_pb2.AccessRule(roles=["user", "admin", "service"]) for m in _CALLS},
    },
    # Repository control, shared memory, tracing, logging, statistics, streaming: not served.
    refused=frozenset(m.name for m in pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].methods)
    - set(_PROBES)
    - set(_CALLS),
)
declare_foreign_rules(SERVICE_NAME, INFERENCE_RULES)

# numpy dtype -> KServe v2 datatype.
_DATATYPE = {
    np.dtype(np.float32): "FP32",
    np.dtype(np.float64): "FP64",
    np.dtype(np.int64): "INT64",
    np.dtype(np.int32): "INT32",
    np.dtype(np.bool_): "BOOL",
}


def _metadata(tensor: TensorInfo) -> pb.ModelMetadataResponse.TensorMetadata:
    assert tensor.dtype is not None
    return pb.ModelMetadataResponse.TensorMetadata(
        name=tensor.name, datatype=_DATATYPE[tensor.dtype], shape=list(tensor.shape)
    )


def _served(tensors: list[TensorInfo]) -> list[TensorInfo]:
    return [t for t in tensors if t.dtype is not None and t.dtype in _DATATYPE]


def _feeds(request: pb.ModelInferRequest, session: ModelSession) -> dict[str, np.ndarray]:
    """The request's input tensors, checked against the model's inputs."""
    expected = {t.name: t for t in session.inputs}
    raw = list(request.raw_input_contents)
    if raw and len(raw) != len(request.inputs):
        raise InvalidArgument.field(
            "raw_input_contents",
            f"{len(raw)} raw buffers for {len(request.inputs)} inputs: give one per input",
        )
    feeds: dict[str, np.ndarray] = {}
    for index, tensor in enumerate(request.inputs):
        where = f"inputs[{tensor.name}]"
        model_input = expected.get(tensor.name)
        if model_input is None:
            raise InvalidArgument.field(
                "inputs", f"model {session.name} has no input {tensor.name!r} (inputs: {', '.join(expected)})"
            )
        if tensor.datatype != "FP32" or model_input.dtype != np.dtype(np.float32):
            raise InvalidArgument.field(f"{where}.datatype", f"must be FP32, got {tensor.datatype or 'none'}")
        shape = [int(d) for d in tensor.shape]
        if any(d < 0 for d in shape):
            raise InvalidArgument.field(f"{where}.shape", f"dimensions must not be negative, got {shape}")
        if len(shape) != len(model_input.shape) or any(
            want >= 0 and got != want for got, want in zip(shape, model_input.shape, strict=True)
        ):
            raise InvalidArgument.field(
                f"{where}.shape",
                f"model {session.name} takes {list(model_input.shape)} (-1: any size), got {shape}",
            )
        if shape[0] < 1:
            raise InvalidArgument.field(f"{where}.shape", "the batch dimension must be at least 1")
        count = math.prod(shape)
        if raw:
            if len(raw[index]) != count * 4:
                raise InvalidArgument.field(
                    "raw_input_contents",
                    f"input {tensor.name!r} of shape {shape} needs {count * 4} bytes "
                    f"(FP32), got {len(raw[index])}",
                )
            values = np.frombuffer(raw[index], dtype="<f4")
        else:
            if len(tensor.contents.fp32_contents) != count:
                raise InvalidArgument.field(
                    f"{where}.contents.fp32_contents",
                    f"shape {shape} needs {count} values, got {len(tensor.contents.fp32_contents)}",
                )
            values = np.asarray(tensor.contents.fp32_contents, dtype=np.float32)
        feeds[tensor.name] = np.ascontiguousarray(values.reshape(shape), dtype=np.float32)
    missing = sorted(set(expected) - set(feeds))
    if missing:
        raise InvalidArgument.field("inputs", f"model {session.name} also needs input {', '.join(missing)}")
    return feeds


def _outputs(request: pb.ModelInferRequest, session: ModelSession) -> list[str]:
    served = {t.name for t in _served(session.outputs)}
    asked = [o.name for o in request.outputs]
    if not asked:
        return [t.name for t in _served(session.outputs)]
    unknown = [name for name in asked if name not in served]
    if unknown:
        raise InvalidArgument.field(
            "outputs",
            f"model {session.name} has no tensor output {', '.join(map(repr, unknown))} "
            f"(outputs: {', '.join(sorted(served))})",
        )
    return asked


class InferenceHandlers(pb_grpc.GRPCInferenceServiceServicer):
    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    async def ServerLive(self, request: pb.ServerLiveRequest, context: grpc.aio.ServicerContext) -> Any:
        return pb.ServerLiveResponse(live=True)

    async def ServerReady(self, request: pb.ServerReadyRequest, context: grpc.aio.ServicerContext) -> Any:
        return pb.ServerReadyResponse(ready=self.registry.ready())

    async def ModelReady(self, request: pb.ModelReadyRequest, context: grpc.aio.ServicerContext) -> Any:
        try:
            self.registry.session(request.name, request.version)
        except (NotFound, ModelUnavailable):
            return pb.ModelReadyResponse(ready=False)
        return pb.ModelReadyResponse(ready=True)

    async def ServerMetadata(
        self, request: pb.ServerMetadataRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        return pb.ServerMetadataResponse(name=SERVER_NAME, version=SERVICE_VERSION, extensions=[])

    async def ModelMetadata(self, request: pb.ModelMetadataRequest, context: grpc.aio.ServicerContext) -> Any:
        session = self.registry.session(request.name, request.version)
        return pb.ModelMetadataResponse(
            name=session.name,
            versions=[str(session.version)],
            platform=PLATFORM,
            inputs=[_metadata(t) for t in _served(session.inputs)],
            outputs=[_metadata(t) for t in _served(session.outputs)],
        )

    async def ModelInfer(self, request: pb.ModelInferRequest, context: grpc.aio.ServicerContext) -> Any:
        session = self.registry.session(request.model_name, request.model_version)
        feeds = _feeds(request, session)
        names = _outputs(request, session)
        results = await asyncio.to_thread(self.registry.run_raw_sync, session, feeds, names)
        response = pb.ModelInferResponse(
            model_name=session.name, model_version=str(session.version), id=request.id
        )
        for name, value in zip(names, results, strict=True):
            array = np.asarray(value)
            dtype = array.dtype.newbyteorder("=")
            response.outputs.append(
                pb.ModelInferResponse.InferOutputTensor(
                    name=name, datatype=_DATATYPE[np.dtype(dtype)], shape=list(array.shape)
                )
            )
            little_endian = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
            response.raw_output_contents.append(little_endian.tobytes())
        return response


def add_inference_service(handlers: InferenceHandlers, server: grpc.aio.Server) -> None:
    """Register the KServe v2 service on a grpc.aio server (add SERVICE_NAME to its service list)."""
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(handlers, server)
