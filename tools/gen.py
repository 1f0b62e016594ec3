"""Regenerate everything derived from proto/ into gen/ (or another folder, for the staleness check).

Outputs:
  gen/python/      Python messages, gRPC stubs and typed .pyi (mypy-protobuf)
  gen/ts/          TypeScript messages and service descriptors for the browser (protoc-gen-es v2)
  gen/descriptor/  the FileDescriptorSet Envoy's grpc_json_transcoder and the OpenAPI docs load

googleapis imports come from the installed googleapis-common-protos package (the Buf Schema
Registry is unreachable here); they are copied into build/proto-deps so buf sees them too.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
DEPS_DIR = ROOT / "build" / "proto-deps"
# The googleapis files our contracts import, taken from googleapis-common-protos.
GOOGLEAPIS_FILES = ("google/api/annotations.proto", "google/api/http.proto")
# Error detail types Envoy's transcoder must know to turn grpc-status-details-bin into JSON.
GOOGLE_RPC_FILES = ("google/rpc/status.proto", "google/rpc/error_details.proto")
# Plugins installed beside this interpreter (the project's .venv).
BIN_DIR = Path(sys.executable).parent
ES_PLUGIN = ROOT / "web" / "node_modules" / ".bin" / "protoc-gen-es"


def sync_proto_deps() -> Path:
    """Copy the imported googleapis protos out of the installed package."""
    import google.api  # provided by googleapis-common-protos

    site_root = Path(google.api.__path__[0]).parent.parent
    for rel in GOOGLEAPIS_FILES + GOOGLE_RPC_FILES:
        target = DEPS_DIR / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(site_root / rel, target)
    return DEPS_DIR


def proto_files() -> list[str]:
    return sorted(str(p.relative_to(PROTO_DIR)) for p in PROTO_DIR.rglob("*.proto"))


def protoc(args: list[str], extra_inputs: tuple[str, ...] = ()) -> None:
    wkt = resources.files("grpc_tools") / "_proto"
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{PROTO_DIR}",
        f"-I{DEPS_DIR}",
        f"-I{wkt}",
        *args,
        *proto_files(),
        *extra_inputs,
    ]
    subprocess.run(cmd, check=True, cwd=ROOT)


def generate(out: Path, *, with_ts: bool) -> None:
    sync_proto_deps()
    py_out = out / "python"
    ts_out = out / "ts"
    desc_out = out / "descriptor"
    for folder in (py_out, desc_out) + ((ts_out,) if with_ts else ()):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    protoc(
        [
            f"--python_out={py_out}",
            f"--grpc_python_out={py_out}",
            f"--plugin=protoc-gen-mypy={BIN_DIR / 'protoc-gen-mypy'}",
            f"--plugin=protoc-gen-mypy_grpc={BIN_DIR / 'protoc-gen-mypy_grpc'}",
            f"--mypy_out={py_out}",
            f"--mypy_grpc_out={py_out}",
        ]
    )
    # Source info keeps the proto comments, which become the OpenAPI descriptions.
    protoc(
        [
            "--include_imports",
            "--include_source_info",
            f"--descriptor_set_out={desc_out / 'trading.binpb'}",
        ],
        GOOGLE_RPC_FILES,
    )
    if with_ts:
        if not ES_PLUGIN.exists():
            sys.exit(f"{ES_PLUGIN} is missing: run `npm ci` in web/ first (make web-deps)")
        # The generated TS imports the googleapis annotations, so they are generated too.
        protoc(
            [f"--plugin=protoc-gen-es={ES_PLUGIN}", f"--es_out={ts_out}", "--es_opt=target=ts"],
            GOOGLEAPIS_FILES,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "gen")
    parser.add_argument("--deps-only", action="store_true", help="only populate build/proto-deps")
    parser.add_argument("--no-ts", action="store_true", help="skip TypeScript generation")
    opts = parser.parse_args()
    if opts.deps_only:
        sync_proto_deps()
        return
    generate(opts.out, with_ts=not opts.no_ts)


if __name__ == "__main__":
    main()
