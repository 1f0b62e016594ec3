"""The platform's default addresses, owned here and nowhere else.

Every settings class (business, ml_engine, gateway, the edge) and the Envoy renderer take their
defaults from these names; an environment variable of the same name overrides each at run time."""

from __future__ import annotations

LOOPBACK = "127.0.0.1"
ALL_INTERFACES = "0.0.0.0"  # Envoy's public listener

ENVOY_PORT = 8080  # the only public port: REST, gRPC-Web and gRPC
ENVOY_ADMIN_PORT = 9901  # bound to loopback only
GATEWAY_PORT = 8000
BUSINESS_GRPC_PORT = 50051
ML_GRPC_PORT = 50052
BUSINESS_METRICS_PORT = 9101
ML_METRICS_PORT = 9102
WEB_DEV_PORT = 5173  # Vite's dev server

BUSINESS_GRPC_TARGET = f"{LOOPBACK}:{BUSINESS_GRPC_PORT}"
ML_GRPC_TARGET = f"{LOOPBACK}:{ML_GRPC_PORT}"
EDGE_URL = f"http://localhost:{ENVOY_PORT}"
WEB_DEV_ORIGINS = (f"http://localhost:{WEB_DEV_PORT}", f"http://{LOOPBACK}:{WEB_DEV_PORT}")
