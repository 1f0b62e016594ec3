"""The upstreams: business and the ML engine (gRPC, HTTP/2) and the gateway (HTTP/1.1).

Outlier detection ejects a host that keeps failing for a few seconds, so a service that went
down is retried soon after it returns, without restarting Envoy.

Circuit breakers are sized for streams: an open server stream (StreamBars, StreamPredictions,
StreamAlerts, over gRPC or gRPC-Web) is one upstream request for as long as it lasts, and a
WebSocket through the gateway is one upstream connection, so Envoy's defaults (1,024 of each per
cluster) would refuse the 1,025th subscriber with a 503 "overflow". An HTTP/2 upstream needs one
connection per Envoy worker (--concurrency, one per core: tools/supervisor.py, k8s/platform.yaml).
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
# Concurrent requests (streams included) and connections per cluster: room for the 5,000 stream
# subscribers bench/ml.py measures, with headroom for the unary calls beside them.
MAX_UPSTREAM_REQUESTS = 20_000
MAX_UPSTREAM_CONNECTIONS = 20_000
CIRCUIT_BREAKERS = {
    "thresholds": [
        {
            "priority": "DEFAULT",
            "max_connections": MAX_UPSTREAM_CONNECTIONS,
            "max_pending_requests": MAX_UPSTREAM_REQUESTS,
            "max_requests": MAX_UPSTREAM_REQUESTS,
            "max_retries": 3,
        }
    ]
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
        # A burst of WebSockets is a burst of connections: a SYN the gateway's full listen queue
        # dropped is sent again after 1 s, so a 1 s timeout failed it (503) instead of waiting.
        _cluster("gateway", edge.gateway, http2=False, connect_timeout="3s"),
    ]


def _cluster(name: str, upstream: Upstream, *, http2: bool, connect_timeout: str = "1s") -> dict[str, Any]:
    endpoint = {"endpoint": {"address": socket_address(upstream.host, upstream.port)}}
    cluster: dict[str, Any] = {
        "name": name,
        "type": "STRICT_DNS",
        "connect_timeout": connect_timeout,
        "dns_lookup_family": "V4_ONLY",
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [endpoint]}]},
        "outlier_detection": OUTLIER_DETECTION,
        "circuit_breakers": CIRCUIT_BREAKERS,
    }
    if http2:
        cluster["typed_extension_protocol_options"] = HTTP2
    return cluster
