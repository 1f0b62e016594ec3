"""The one settings class of the edge: the environment variables that shape the Envoy config.

Environment names are the upper-case field names (ENVOY_PORT, BUSINESS_HOST, ...); defaults come
from `service_runtime.defaults`. Limits that do not vary per deployment (rate limits, body and
header sizes, the other timeouts) are constants beside the part of the config they shape
(`routes.py`, `listener.py`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from pydantic import Field

from service_runtime import defaults
from service_runtime.config import CommonSettings

# Where `make gen` writes the descriptor set, relative to the repo root.
DESCRIPTOR_SET = "gen/descriptor/trading.binpb"

# Browser origins allowed by default: Vite's dev server, the gateway serving the built web app, and
# the edge itself, through which `make run` serves the app (the refresh cookie is set only for an
# allowed Origin: without its own, a page opened at the edge lost its session on every reload).
DEFAULT_CORS_ORIGINS = (
    *defaults.WEB_DEV_ORIGINS,
    f"http://localhost:{defaults.GATEWAY_PORT}",
    f"http://{defaults.LOOPBACK}:{defaults.GATEWAY_PORT}",
    f"http://localhost:{defaults.ENVOY_PORT}",
    f"http://{defaults.LOOPBACK}:{defaults.ENVOY_PORT}",
)


@dataclass(frozen=True)
class Upstream:
    host: str
    port: int


class EdgeSettings(CommonSettings):
    """Listener, upstream addresses, CORS origins, a rate-limit scale, and where Envoy finds the
    descriptor set (the token's issuer and audience come from CommonSettings)."""

    envoy_host: str = Field(
        defaults.LOOPBACK,
        description="interface of Envoy's public listener: loopback for local runs, 0.0.0.0 in a "
        "container (make k8s-envoy)",
    )
    envoy_port: int = Field(defaults.ENVOY_PORT, description="Envoy's public port (REST, gRPC-Web, gRPC)")
    envoy_admin_port: int = Field(
        defaults.ENVOY_ADMIN_PORT, description="Envoy admin port, bound to loopback only"
    )
    cors_allowed_origins: str = Field(
        ",".join(DEFAULT_CORS_ORIGINS), description="comma-separated browser origins allowed by CORS"
    )
    business_host: str = Field(
        defaults.LOOPBACK, description="host of the business service, as Envoy sees it"
    )
    business_grpc_port: int = Field(defaults.BUSINESS_GRPC_PORT, description="business service gRPC port")
    ml_host: str = Field(defaults.LOOPBACK, description="host of the ML engine, as Envoy sees it")
    ml_grpc_port: int = Field(defaults.ML_GRPC_PORT, description="ML engine gRPC port")
    gateway_upstream_host: str = Field(defaults.LOOPBACK, description="host of the gateway, as Envoy sees it")
    gateway_port: int = Field(defaults.GATEWAY_PORT, description="gateway HTTP port")
    envoy_concurrency: int = Field(
        0,
        ge=0,
        description="Envoy's worker threads (--concurrency); 0: one per CPU core this process may "
        "use, rather than Envoy's own default of every hardware thread of the host",
    )
    # Same name and unit as business's deadline of its calls to the ML engine: one bound for both.
    ml_service_timeout: int = Field(
        30_000, gt=0, le=30_000, description="route timeout of ML engine calls at Envoy (ms)"
    )
    rate_limit_scale: float = Field(
        1.0, gt=0, description="multiplies every route's rate limit (tests use a tiny value)"
    )
    envoy_descriptor_set: str = Field(
        DESCRIPTOR_SET,
        description="the descriptor set as Envoy opens it (REST transcoding); a relative path is "
        "resolved from Envoy's working directory, the repo root when started by make run",
    )

    @classmethod
    def defaults(cls) -> Self:
        """Every field at its default whatever the environment and .env say (the committed
        envoy/envoy.local.yaml is rendered from these)."""
        return cls(**{name: f.get_default(call_default_factory=True) for name, f in cls.model_fields.items()})

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Self:
        """Settings from `env` (a child's environment) rather than this process's own."""
        fields = {name.upper(): name for name in cls.model_fields}
        given: dict[str, Any] = {
            fields[key.upper()]: value for key, value in env.items() if key.upper() in fields
        }
        return cls(**given)

    @property
    def workers(self) -> int:
        """Envoy's --concurrency: the setting, else the cores this process may run on (a
        container's CPU set), never fewer than one."""
        return self.envoy_concurrency or max(1, len(os.sched_getaffinity(0)))

    @property
    def business(self) -> Upstream:
        return Upstream(self.business_host, self.business_grpc_port)

    @property
    def ml_engine(self) -> Upstream:
        return Upstream(self.ml_host, self.ml_grpc_port)

    @property
    def gateway(self) -> Upstream:
        return Upstream(self.gateway_upstream_host, self.gateway_port)

    @property
    def cors_origins(self) -> list[str]:
        return [origin.strip() for origin in self.cors_allowed_origins.split(",") if origin.strip()]
