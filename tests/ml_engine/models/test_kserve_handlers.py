"""The KServe v2 service through an in-process server (service_runtime.in_process: the production
interceptors, the real AccessInterceptor), called by the standard tritonclient."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.grpc.aio as triton
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

from ml_engine.models.kserve_handlers import SERVICE_NAME, InferenceHandlers, add_inference_service
from service_runtime.in_process import serve_in_process
from tests.ml_engine.models.conftest import serving_settings, start_serving
from tests.ml_engine.models.serving.tiny_models import F, write
from tests.support.in_process import TestCallers


@dataclass
class Served:
    client: triton.InferenceServerClient
    headers: dict[str, str]
    repo: Path
    channel: grpc.aio.Channel
    callers: TestCallers


@pytest.fixture
async def served(tmp_path: Path, callers: TestCallers) -> AsyncIterator[Served]:
    repo = tmp_path / "models"
    write(repo, "tab", 1)
    write(repo, "tab", 2)
    write(repo, "seq", 1, window=4)
    registry, activation = await start_serving(serving_settings(repo))
    handlers = InferenceHandlers(registry)
    try:
        async with serve_in_process(
            service_names=[SERVICE_NAME],
            registrars=[lambda server: add_inference_service(handlers, server)],
            verifier=callers.verifier(),
        ) as server:
            # tritonclient dials an address; it takes no channel.
            client = triton.InferenceServerClient(url=server.address)
            try:
                yield Served(client, dict(callers.metadata(roles=("user",))), repo, server.channel, callers)
            finally:
                await client.close()
    finally:
        await activation.stop()


def _input(x: np.ndarray, name: str = "features") -> triton.InferInput:
    tensor = triton.InferInput(name, list(x.shape), "FP32")
    tensor.set_data_from_numpy(x)
    return tensor


async def test_probes_metadata_and_infer_round_trip(served: Served) -> None:
    client, headers = served.client, served.headers
    # Probes are open (no token), like Triton's.
    assert await client.is_server_live()
    assert await client.is_server_ready()
    assert await client.is_model_ready("tab")
    assert await client.is_model_ready("tab", "2")
    assert not await client.is_model_ready("tab", "1")  # on disk, not loaded
    assert not await client.is_model_ready("tab", "²")  # not a version (int() refuses it): not ready
    assert not await client.is_model_ready("nope")
    server = await client.get_server_metadata(headers=headers)
    assert server.name == "trading-ml-engine"

    meta = await client.get_model_metadata("seq", headers=headers)
    assert meta.name == "seq" and list(meta.versions) == ["1"] and meta.platform == "onnxruntime_onnx"
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.inputs] == [("features", "FP32", [-1, 4, F])]
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.outputs] == [("outputs", "FP32", [-1, 4])]

    x = np.random.default_rng(0).normal(size=(5, 4, F)).astype(np.float32)
    result = await client.infer(
        "seq",
        [_input(x)],
        outputs=[triton.InferRequestedOutput("outputs")],
        request_id="r-1",
        headers=headers,
    )
    direct = ort.InferenceSession(str(served.repo / "seq" / "1" / "model.onnx")).run(
        ["outputs"], {"features": x}
    )[0]
    got = result.as_numpy("outputs")
    assert got.dtype == np.float32 and got.shape == (5, 4)
    np.testing.assert_allclose(got, direct, rtol=1e-6, atol=1e-6)
    response = result.get_response()
    assert response.model_version == "1" and response.id == "r-1"

    # model_version honoured; all outputs when none is requested.
    tab_x = np.random.default_rng(1).normal(size=(3, F)).astype(np.float32)
    tab = await client.infer("tab", [_input(tab_x)], model_version="2", headers=headers)
    direct = ort.InferenceSession(str(served.repo / "tab" / "2" / "model.onnx")).run(
        None, {"features": tab_x}
    )[0]
    np.testing.assert_allclose(tab.as_numpy("outputs"), direct, rtol=1e-6, atol=1e-6)


async def test_fp32_contents_are_accepted(served: Served) -> None:
    x = np.random.default_rng(2).normal(size=(2, F)).astype(np.float32)
    request = service_pb2.ModelInferRequest(model_name="tab")
    tensor = request.inputs.add(name="features", datatype="FP32", shape=[2, F])
    tensor.contents.fp32_contents.extend(x.ravel().tolist())
    stub = service_pb2_grpc.GRPCInferenceServiceStub(served.channel)
    reply = await stub.ModelInfer(request, metadata=tuple(served.headers.items()))
    values = np.frombuffer(reply.raw_output_contents[0], dtype="<f4").reshape(2, 4)
    direct = ort.InferenceSession(str(served.repo / "tab" / "2" / "model.onnx")).run(None, {"features": x})[0]
    np.testing.assert_allclose(values, direct, rtol=1e-6, atol=1e-6)


async def test_bad_requests_are_invalid_argument_with_clear_messages(served: Served) -> None:
    client, headers = served.client, served.headers
    cases = [
        ("tab", [_input(np.zeros((2, F - 1), np.float32))], "", r"inputs\[features\].shape.*\[-1, 23\]"),
        ("tab", [_input(np.zeros((2, F), np.float32), name="x")], "", "no input 'x'"),
        ("seq", [_input(np.zeros((2, F), np.float32))], "", r"\[-1, 4, 23\]"),
    ]
    for model, inputs, version, message in cases:
        with pytest.raises(InferenceServerException, match=message) as caught:
            await client.infer(model, inputs, model_version=version, headers=headers)
        assert caught.value.status() == "StatusCode.INVALID_ARGUMENT"
    fp64 = triton.InferInput("features", [1, F], "FP64")
    fp64.set_data_from_numpy(np.zeros((1, F), np.float64))
    with pytest.raises(InferenceServerException, match="must be FP32") as caught:
        await client.infer("tab", [fp64], headers=headers)
    assert caught.value.status() == "StatusCode.INVALID_ARGUMENT"
    with pytest.raises(InferenceServerException, match="no tensor output 'nope'"):
        await client.infer(
            "tab",
            [_input(np.zeros((1, F), np.float32))],
            outputs=[triton.InferRequestedOutput("nope")],
            headers=headers,
        )
    with pytest.raises(InferenceServerException) as caught:
        await client.infer("nope", [_input(np.zeros((1, F), np.float32))], headers=headers)
    assert caught.value.status() == "StatusCode.NOT_FOUND"
    with pytest.raises(InferenceServerException, match="not loaded") as caught:
        await client.infer("tab", [_input(np.zeros((1, F), np.float32))], model_version="1", headers=headers)
    assert caught.value.status() == "StatusCode.UNAVAILABLE"


async def test_inference_needs_a_token_and_unserved_methods_are_refused(served: Served) -> None:
    client = served.client
    x = np.zeros((1, F), np.float32)
    with pytest.raises(InferenceServerException) as caught:
        await client.infer("tab", [_input(x)])
    assert caught.value.status() == "StatusCode.UNAUTHENTICATED"
    with pytest.raises(InferenceServerException) as caught:
        await client.get_model_metadata("tab")
    assert caught.value.status() == "StatusCode.UNAUTHENTICATED"
    # A token without any of the roles is refused.
    stranger = dict(served.callers.metadata(roles=("guest",)))
    with pytest.raises(InferenceServerException) as caught:
        await client.infer("tab", [_input(x)], headers=stranger)
    assert caught.value.status() == "StatusCode.PERMISSION_DENIED"
    # Repository control is not opened, not even to an admin.
    admin = dict(served.callers.metadata(roles=("admin",)))
    with pytest.raises(InferenceServerException) as caught:
        await client.load_model("tab", headers=admin)
    assert caught.value.status() == "StatusCode.PERMISSION_DENIED"
    # Health stays open for probes.
    reply = await health_pb2_grpc.HealthStub(served.channel).Check(
        health_pb2.HealthCheckRequest(service=SERVICE_NAME)
    )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
