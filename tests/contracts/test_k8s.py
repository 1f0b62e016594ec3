"""The Kubernetes rendering of the edge config is valid Envoy config; manifests parse."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from gateway.envoy_config import EdgeSettings, Upstream, render

ROOT = Path(__file__).resolve().parents[2]


def test_k8s_envoy_config_validates(tmp_path: Path) -> None:
    edge = EdgeSettings(
        business=Upstream("business", 50051),
        ml_engine=Upstream("ml-engine", 50052),
        gateway=Upstream("gateway", 8000),
    )
    config = tmp_path / "envoy.json"
    config.write_text(json.dumps(render(edge)))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "envoy"), "--mode", "validate", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_manifests_parse_and_drop_privileges() -> None:
    docs = [d for d in yaml.safe_load_all((ROOT / "k8s" / "platform.yaml").read_text()) if d and "kind" in d]
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == {"business", "ml-engine", "gateway", "envoy"}
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert all(c["securityContext"]["allowPrivilegeEscalation"] is False for c in pod["containers"])
