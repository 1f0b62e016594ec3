"""EdgeSettings: one class, read from the environment, defaults from service_runtime.defaults."""

from __future__ import annotations

import pytest

from envoy.settings import EdgeSettings
from service_runtime import defaults


def test_defaults_ignore_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVOY_PORT", "18080")
    monkeypatch.setenv("BUSINESS_HOST", "business")
    assert EdgeSettings().envoy_port == 18080
    edge = EdgeSettings.defaults()
    assert edge.envoy_port == defaults.ENVOY_PORT
    assert edge.business.host == defaults.LOOPBACK and edge.business.port == defaults.BUSINESS_GRPC_PORT
    assert edge.ml_engine.port == defaults.ML_GRPC_PORT and edge.gateway.port == defaults.GATEWAY_PORT


def test_a_childs_environment_decides_its_ports() -> None:
    edge = EdgeSettings.from_environment({"envoy_port": "18080", "ML_GRPC_PORT": "15052", "PATH": "/bin"})
    assert edge.envoy_port == 18080 and edge.ml_engine.port == 15052


def test_cors_origins_are_the_web_dev_server_and_the_gateway() -> None:
    origins = EdgeSettings.defaults().cors_origins
    assert origins[:2] == list(defaults.WEB_DEV_ORIGINS)
    assert f"http://127.0.0.1:{defaults.GATEWAY_PORT}" in origins
    assert EdgeSettings(cors_allowed_origins=" http://a.test, ,http://b.test").cors_origins == [
        "http://a.test",
        "http://b.test",
    ]


def test_envoy_runs_one_worker_per_usable_core_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.sched_getaffinity", lambda _pid: {0, 1, 2})
    assert EdgeSettings.defaults().workers == 3
    assert EdgeSettings.from_environment({"ENVOY_CONCURRENCY": "5"}).workers == 5
    with pytest.raises(ValueError, match="envoy_concurrency"):
        EdgeSettings.from_environment({"ENVOY_CONCURRENCY": "-1"})
