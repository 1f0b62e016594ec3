"""The gateway's FastAPI app: JWKS, dev tokens, OAuth sign-in, the prediction WebSocket, API docs,
health and the built web app."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI

from gateway import api_docs, dev_tokens, health, jwks, oauth, stripe_webhooks, web_app, ws_bridge
from gateway.config import GatewaySettings
from gateway.errors import install_error_handlers

log = logging.getLogger(__name__)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    store = settings.signing_keys()
    # A key must exist before anyone (Envoy, a service) fetches the JWKS.
    store.ensure()
    if settings.dev_tokens_enabled:
        log.warning("dev tokens enabled: POST %s mints tokens without a login", dev_tokens.PATH)

    # FastAPI's own /docs and /redoc would describe this small app, not the platform's API.
    app = FastAPI(title="trading gateway", docs_url=None, redoc_url=None, openapi_url=None)
    install_error_handlers(app)
    app.include_router(health.router())
    app.include_router(jwks.router(store, settings.jwks_max_age_s))
    app.include_router(dev_tokens.router(settings, store))
    app.include_router(oauth.router(settings, store))
    # The prediction WebSocket's bridge, on app.state for tests and operators to look into.
    app.state.stream_bridge = ws_bridge.StreamBridge(settings, store)
    app.include_router(ws_bridge.router(app.state.stream_bridge))
    app.include_router(stripe_webhooks.router(settings, store))
    app.include_router(api_docs.router(api_docs.OpenApiSource(Path(settings.descriptor_set))))
    app.include_router(
        web_app.router(Path(settings.web_dist_dir), settings.public_api_url)
    )  # catch-all: keep last
    return app
