#!/usr/bin/env bash
# Regenerates src/generated/google/rpc/error_details_pb.ts (google.rpc.BadRequest, RetryInfo, ...)
# with the same protoc and protoc-gen-es that tools/gen.py uses for gen/ts. The web app needs these
# types to read the details of gRPC errors (ConnectError.findDetails). Once tools/gen.py generates
# google/rpc into gen/ts, import from "@gen/google/rpc/error_details_pb" and delete this.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="$ROOT/.venv/bin/python"
"$PY" "$ROOT/tools/gen.py" --deps-only
WKT="$("$PY" -c 'from importlib import resources; print(resources.files("grpc_tools") / "_proto")')"
"$PY" -m grpc_tools.protoc -I"$ROOT/build/proto-deps" -I"$WKT" \
  --plugin=protoc-gen-es="$ROOT/web/node_modules/.bin/protoc-gen-es" \
  --es_out="$ROOT/web/src/generated" --es_opt=target=ts \
  google/rpc/error_details.proto
