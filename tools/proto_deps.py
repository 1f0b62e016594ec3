"""Copy the googleapis protos our contracts need out of the installed googleapis-common-protos
package into build/proto-deps, the second module of the buf workspace (buf.yaml).

The one step of code generation buf cannot do itself: the Buf Schema Registry
(buf.build/googleapis/googleapis) is not reachable from our machines, so the pinned Python
package is the source of these files. `make gen`, `make lint` and `make breaking` run it before buf.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import google.api  # provided by googleapis-common-protos

ROOT = Path(__file__).resolve().parent.parent
DEPS_DIR = ROOT / "build" / "proto-deps"
# Imported by our contracts (google.api.http, google.api.HttpBody); the generated TypeScript
# imports them too, so buf.gen.yaml generates them into gen/ts (include_imports).
GOOGLEAPIS_FILES = ("google/api/annotations.proto", "google/api/http.proto", "google/api/httpbody.proto")
# Imported by no contract, but part of the descriptor set (`buf build` takes every file of the
# workspace): Envoy's transcoder needs them to turn grpc-status-details-bin into JSON.
GOOGLE_RPC_FILES = ("google/rpc/status.proto", "google/rpc/error_details.proto")


def sync_proto_deps() -> Path:
    site_root = Path(google.api.__path__[0]).parent.parent
    for rel in GOOGLEAPIS_FILES + GOOGLE_RPC_FILES:
        target = DEPS_DIR / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(site_root / rel, target)
    return DEPS_DIR


if __name__ == "__main__":
    sync_proto_deps()
