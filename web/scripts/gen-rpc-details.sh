#!/usr/bin/env bash
# Regenerates src/generated/google/rpc/error_details_pb.ts (google.rpc.BadRequest, RetryInfo, ...)
# with the protoc of grpcio-tools and the protoc-gen-es that buf.gen.yaml runs for gen/ts. The web
# app needs these types to read the details of gRPC errors (ConnectError.findDetails). Once
# `make gen` writes google/rpc into gen/ts, import "@gen/google/rpc/error_details_pb" and delete this.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="$ROOT/.venv/bin/python"
"$PY" "$ROOT/tools/proto_deps.py"   # copies google/rpc/*.proto into build/proto-deps
WKT="$("$PY" -c 'from importlib import resources; print(resources.files("grpc_tools") / "_proto")')"
"$PY" -m grpc_tools.protoc -I"$ROOT/build/proto-deps" -I"$WKT" \
  --plugin=protoc-gen-es="$ROOT/web/node_modules/.bin/protoc-gen-es" \
  --es_out="$ROOT/web/src/generated" --es_opt=target=ts \
  google/rpc/error_details.proto
