"""The RPC table the edge is rendered from, read from the descriptor set (`make gen`).

Each RPC goes to the service that owns its package; reads (`idempotency_level =
NO_SIDE_EFFECTS`) are retried; RPCs whose AccessRule is `public` skip JWT validation, those whose
rule lists `plans` pass the edge's plan check only with one of them; server streams get no route
timeout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from google.protobuf import descriptor_pb2

from envoy.settings import DESCRIPTOR_SET
from service_runtime.proto_index import access_rule, http_bindings, is_public

ROOT = Path(__file__).resolve().parent.parent

# Which upstream serves which proto package (longest prefix wins).
PACKAGE_UPSTREAMS = {"trading.ml.": "ml_engine", "trading.market.": "ml_engine", "trading.": "business"}


@dataclass(frozen=True)
class Rpc:
    path: str  # /package.Service/Method
    upstream: str
    http_path: str  # REST path template, "" when the RPC has none
    read: bool
    public: bool = False  # its AccessRule says no token is needed
    server_streaming: bool = False
    plans: tuple[str, ...] = ()  # its AccessRule's plans: only tokens with one of them pass
    http_body: bool = False  # answers google.api.HttpBody: a REST reply the service renders itself

    @property
    def service(self) -> str:
        return self.path.split("/")[1]


def upstream_of(package: str) -> str:
    for prefix in packages_longest_first():
        if (package + ".").startswith(prefix):
            return PACKAGE_UPSTREAMS[prefix]
    raise ValueError(f"no upstream owns package {package}")


def packages_longest_first() -> list[str]:
    return sorted(PACKAGE_UPSTREAMS, key=len, reverse=True)


def load_rpcs(descriptor_set: Path = ROOT / DESCRIPTOR_SET) -> list[Rpc]:
    """The platform's RPCs, sorted by path (the rendered config does not depend on file order)."""
    fds = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes())
    rpcs = [
        _rpc(file.package, service.name, method)
        for file in fds.file
        if file.package.startswith("trading.")
        for service in file.service
        for method in service.method
    ]
    return sorted(rpcs, key=lambda rpc: rpc.path)


def _rpc(package: str, service: str, method: descriptor_pb2.MethodDescriptorProto) -> Rpc:
    bindings = http_bindings(method)
    rule = access_rule(method)
    return Rpc(
        path=f"/{package}.{service}/{method.name}",
        upstream=upstream_of(package),
        http_path=bindings[0].template if bindings else "",
        read=method.options.idempotency_level == descriptor_pb2.MethodOptions.NO_SIDE_EFFECTS,
        public=is_public(method),
        server_streaming=method.server_streaming,
        plans=tuple(rule.plans) if rule is not None else (),
        http_body=method.output_type == ".google.api.HttpBody",
    )


def ml_packages() -> list[str]:
    """gRPC path prefixes of the ML engine's packages ("/trading.ml.", ...)."""
    return sorted("/" + prefix for prefix, upstream in PACKAGE_UPSTREAMS.items() if upstream == "ml_engine")


def ml_path_prefixes(rpcs: list[Rpc]) -> list[str]:
    """REST path prefixes served by the ML engine, for the seed's 'ML service unavailable'."""
    paths = set(ml_packages())
    for rpc in rpcs:
        if rpc.upstream == "ml_engine" and rpc.http_path:
            paths.add(rpc.http_path.split("{", 1)[0])
    return sorted(paths)
