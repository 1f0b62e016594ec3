"""`.env.example` documents exactly the variables the settings classes read."""

from __future__ import annotations

from pathlib import Path

from tools.env_example import env_example

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_is_current() -> None:
    assert (ROOT / ".env.example").read_text() == env_example(), "run `.venv/bin/python -m tools.env_example`"
