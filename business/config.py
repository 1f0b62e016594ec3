"""Business service settings. Names follow the seed's Express .env table where they apply."""

from __future__ import annotations

from pydantic import Field

from service_runtime.config import CommonSettings

SERVICE_VERSION = "0.1.0"


class BusinessSettings(CommonSettings):
    business_grpc_port: int = Field(50051, description="business service gRPC port")
    business_metrics_port: int = Field(9101, description="business Prometheus /metrics port (0: off)")
    database_url: str = Field(
        "sqlite:///.data/business.db",
        description="business store; postgresql://user:pass@host:5432/db in production",
    )
    redis_url: str = Field("", description="Redis URL; empty: in-process caches and limits")
    ml_service_url: str = Field("127.0.0.1:50052", description="gRPC target of the ML engine")
    # The seed's ML_SERVICE_TIMEOUT, in ms; capped at 30 s like every outgoing call.
    ml_service_timeout: int = Field(30_000, gt=0, le=30_000, description="deadline of calls to the ML engine (ms)")
    health_probe_timeout_ms: int = Field(2000, gt=0, le=30_000, description="deadline of each health probe (ms)")

    @property
    def ml_target(self) -> str:
        """Accept the seed's URL form (http://host:port) as well as a bare gRPC target."""
        return self.ml_service_url.split("://", 1)[-1].rstrip("/")
