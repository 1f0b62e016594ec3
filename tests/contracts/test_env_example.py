"""`.env.example` documents exactly the variables the settings classes read."""

from __future__ import annotations

from pathlib import Path

from tools.env_example import env_example, markdown_table

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_is_current() -> None:
    assert (ROOT / ".env.example").read_text() == env_example(), "run `.venv/bin/python -m tools.env_example`"


def test_readme_configuration_table_is_current() -> None:
    assert markdown_table() in (ROOT / "README.md").read_text(), (
        "README's configuration table: paste `.venv/bin/python -m tools.env_example --table`"
    )
