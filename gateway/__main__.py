"""`python -m gateway`: serve the gateway with uvicorn on GATEWAY_HOST:GATEWAY_PORT."""

from __future__ import annotations

import sys

import uvicorn
from pydantic import ValidationError

from gateway.app import create_app
from gateway.config import GatewaySettings
from service_runtime.garbage_collection import freeze_startup_objects
from service_runtime.logging import configure_logging

LISTEN_BACKLOG = 16_384


def main() -> int:
    try:
        settings = GatewaySettings()
    except ValidationError as exc:  # e.g. dev tokens on outside development: refuse to start
        print(f"gateway: invalid settings: {exc}", file=sys.stderr)
        return 2
    configure_logging("gateway", settings.log_level)
    app = create_app(settings)
    freeze_startup_objects()
    uvicorn.run(
        app,
        host=settings.gateway_host,
        port=settings.gateway_port,
        log_config=None,  # keep our JSON logging; uvicorn's loggers propagate to it
        timeout_graceful_shutdown=int(settings.shutdown_grace_s),
        server_header=False,
        # request.client stays the real peer: the gateway reads X-Forwarded-For itself, trusting
        # only Envoy's last entry (gateway/client_address.py).
        proxy_headers=False,
        # Every WebSocket is an upstream connection of its own from Envoy: a burst of thousands
        # (a market open, clients reconnecting after a restart) must wait in the listen queue,
        # not overflow it (uvicorn's 2,048; the kernel caps it at net.core.somaxconn).
        backlog=LISTEN_BACKLOG,
        # No permessage-deflate: the prediction stream sends every socket the same JSON, and each
        # socket's own compression context compressed it again (a quarter of the gateway's CPU at
        # 5,000 sockets, py-spy); a message is a few hundred bytes.
        ws_per_message_deflate=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
