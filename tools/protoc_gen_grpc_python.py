"""protoc-gen-grpc_python: the gRPC Python generator as a protoc plugin, for `buf generate`.

gRPC ships its Python generator only compiled into grpcio-tools' protoc (`python -m
grpc_tools.protoc --grpc_python_out`), never as a plugin executable, and buf proxies only protoc's
own generators (python, cpp, ...) to a protoc binary. buf.gen.yaml runs this as a local plugin:
it reads the CodeGeneratorRequest from stdin, hands its descriptors to grpc_tools' protoc
(`--descriptor_set_in`, exactly as buf's proxy does for `protoc_builtin: python`) and answers
with the files protoc wrote. Same generator, same version as the pinned grpcio-tools.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2


def generate(request: plugin_pb2.CodeGeneratorRequest) -> plugin_pb2.CodeGeneratorResponse:
    response = plugin_pb2.CodeGeneratorResponse(
        supported_features=plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    )
    with tempfile.TemporaryDirectory() as tmp:
        descriptors, out = Path(tmp) / "request.binpb", Path(tmp) / "out"
        out.mkdir()
        descriptors.write_bytes(descriptor_pb2.FileDescriptorSet(file=request.proto_file).SerializeToString())
        args = [f"--descriptor_set_in={descriptors}", f"--grpc_python_out={out}"]
        if request.parameter:
            args.append(f"--grpc_python_opt={request.parameter}")
        protoc = [sys.executable, "-m", "grpc_tools.protoc", *args, *request.file_to_generate]
        # stdout carries our response to buf: protoc's own output goes to stderr.
        if subprocess.run(protoc, stdin=subprocess.DEVNULL, stdout=sys.stderr, check=False).returncode:
            response.error = "grpc_tools.protoc --grpc_python_out failed (its message is above)"
            return response
        for path in sorted(p for p in out.rglob("*") if p.is_file()):
            response.file.add(name=path.relative_to(out).as_posix(), content=path.read_text())
    return response


def main() -> None:
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    sys.stdout.buffer.write(generate(request).SerializeToString())


if __name__ == "__main__":
    main()
