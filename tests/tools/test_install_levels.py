"""The Makefile's install levels (issue 13.11): `make run` installs what serving needs and no
more (requirements.txt: no torch); `make train` adds the training extra; `make test` everything,
torch included (the parity tests compare ONNX Runtime with it)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def installs(target: str) -> set[str]:
    """The requirement files `make <target>` installs when requirements.txt just changed (dry run)."""
    dry = subprocess.run(
        ["make", "--no-print-directory", "-n", "-W", "requirements.txt", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return set(re.findall(r"pip install .*-r (\S+)", dry))


def requirements(path: str) -> set[str]:
    """Every package `pip install -r path` asks for, following -r includes."""
    names = set()
    for line in (ROOT / path).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r "):
            names |= requirements(line[3:].strip())
        elif line:
            names.add(re.split(r"[\[=<>~! ]", line)[0].lower())
    return names


@pytest.mark.parametrize("target", ["run", "admin", "import-bars", "bench-edge"])
def test_serving_targets_install_only_what_serving_needs(target: str) -> None:
    assert installs(target) == {"requirements.txt"}
    assert not {"torch", "onnx", "onnxscript", "onnxmltools", "pytest"} & requirements("requirements.txt")


def test_train_adds_the_training_extra() -> None:
    assert installs("train") == {"requirements.txt", "requirements-train.txt"}
    assert "torch" in requirements("requirements-train.txt")


def test_test_installs_everything_the_tests_need() -> None:
    assert installs("test") >= {"requirements.txt", "requirements-dev.txt"}
    assert {"torch", "onnx", "pytest", "mypy", "ruff"} <= requirements("requirements-dev.txt")
