"""The Kubernetes rendering of the edge config is valid Envoy config; manifests parse."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from envoy.binary import envoy_binary
from envoy.render import write
from envoy.settings import EdgeSettings

ROOT = Path(__file__).resolve().parents[2]


def test_k8s_envoy_config_validates(tmp_path: Path) -> None:
    # `make k8s-envoy`'s hosts; the descriptor set stays where it is here (not /etc/envoy).
    edge = EdgeSettings.defaults().model_copy(
        update={
            "envoy_host": "0.0.0.0",  # in a pod, unlike make run's loopback
            "business_host": "business",
            "ml_host": "ml-engine",
            "gateway_upstream_host": "gateway",
        }
    )
    config = write(edge, tmp_path / "envoy.json")
    result = subprocess.run(
        [str(envoy_binary()), "--mode", "validate", "-c", str(config)],
        cwd=ROOT,
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
        secrets = [v["secret"] for v in pod.get("volumes", []) if "secret" in v]
        if secrets:
            # A Secret volume's files are root-owned: the pod's user reads them only through its
            # group (fsGroup) and the group's read bit.
            assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsUser"] != 0
            assert all(secret["defaultMode"] & 0o040 for secret in secrets)
            assert not any(secret["defaultMode"] & 0o007 for secret in secrets)
