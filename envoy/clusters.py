"""The upstreams: business and the ML engine (gRPC, HTTP/2) and the gateway (HTTP/1.1).

Outlier detection ejects a host that keeps failing for a few seconds, so a service that went
down is retried soon after it returns, without restarting Envoy.
"""

from __future__ import annotations

from typing import Any

from envoy.settings import EdgeSettings, Upstream
from envoy.typed import socket_address, typed

OUTLIER_DETECTION = {
    "consecutive_5xx": 5,
    "consecutive_gateway_failure": 3,
    "interval": "2s",
    "base_ejection_time": "2s",
    "max_ejection_time": "10s",
    "max_ejection_percent": 100,
}
HTTP2 = {
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": typed(
        "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        explicit_http_config={"http2_protocol_options": {}},
    )
}


def clusters(edge: EdgeSettings) -> list[dict[str, Any]]:
    return [
        _cluster("business", edge.business, http2=True),
        _cluster("ml_engine", edge.ml_engine, http2=True),
        _cluster("gateway", edge.gateway, http2=False),
    ]


def _cluster(name: str, upstream: Upstream, *, http2: bool) -> dict[str, Any]:
    endpoint = {"endpoint": {"address": socket_address(upstream.host, upstream.port)}}
    cluster: dict[str, Any] = {
        "name": name,
        "type": "STRICT_DNS",
        "connect_timeout": "1s",
        "dns_lookup_family": "V4_ONLY",
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [endpoint]}]},
        "outlier_detection": OUTLIER_DETECTION,
    }
    if http2:
        cluster["typed_extension_protocol_options"] = HTTP2
    return cluster
