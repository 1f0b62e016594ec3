"""The committed envoy/envoy.local.yaml is what the renderer makes of the defaults, and Envoy
accepts it when started from the repo root."""

from __future__ import annotations

import subprocess
from pathlib import Path

from envoy.binary import envoy_binary
from envoy.render import LOCAL_CONFIG, REFRESH_COMMAND, render, to_yaml
from envoy.settings import EdgeSettings

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_local_config_is_fresh() -> None:
    assert LOCAL_CONFIG.read_text() == to_yaml(render(EdgeSettings.defaults())), (
        f"envoy/envoy.local.yaml is stale: run `{REFRESH_COMMAND}` from the repo root and commit it"
    )


def test_the_committed_local_config_names_no_path_of_this_machine() -> None:
    text = LOCAL_CONFIG.read_text()
    assert str(ROOT) not in text and "/home/" not in text
    assert "proto_descriptor: gen/descriptor/trading.binpb" in text


def test_envoy_accepts_the_committed_local_config() -> None:
    result = subprocess.run(
        [str(envoy_binary()), "--mode", "validate", "-c", "envoy/envoy.local.yaml"],
        cwd=ROOT,  # the descriptor set's path is relative to the repo root
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
