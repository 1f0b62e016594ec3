"""Fixtures for the gateway tests: settings isolated from the environment, keys in tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.config import GatewaySettings

ROOT = Path(__file__).resolve().parents[2]
DESCRIPTOR_SET = ROOT / "gen" / "descriptor" / "trading.binpb"

MakeSettings = Callable[..., GatewaySettings]


@pytest.fixture
def make_settings(tmp_path: Path) -> MakeSettings:
    def make(**overrides: Any) -> GatewaySettings:
        values: dict[str, Any] = {
            "app_env": "test",
            "jwt_keys_dir": str(tmp_path / "keys"),
            "web_dist_dir": str(tmp_path / "dist"),
            "descriptor_set": str(DESCRIPTOR_SET),
            **overrides,
        }
        return GatewaySettings(_env_file=None, **values)

    return make


@pytest.fixture
def settings(make_settings: MakeSettings) -> GatewaySettings:
    return make_settings(dev_tokens_enabled=True)


# Envoy on this host, as under `make run`: the gateway's peer is loopback.
LOCAL_PEER = ("127.0.0.1", 50000)


@pytest.fixture
def client(settings: GatewaySettings) -> TestClient:
    return TestClient(create_app(settings), client=LOCAL_PEER)
