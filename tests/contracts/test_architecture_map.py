"""docs/architecture.md is the map of the code: every path it lists exists, and every feature
package of both services is on it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAP = ROOT / "docs" / "architecture.md"


def mapped_paths() -> list[str]:
    text = MAP.read_text()
    block = re.search(r"```tree\n(.*?)```", text, re.S)
    assert block, "docs/architecture.md has no ```tree block"
    return [line.split()[0] for line in block.group(1).splitlines() if line.strip()]


def test_every_path_on_the_map_exists() -> None:
    missing = [p for p in mapped_paths() if not (ROOT / p).exists()]
    assert not missing, f"docs/architecture.md lists paths that do not exist: {missing}"
    not_folders = [p for p in mapped_paths() if p.endswith("/") and not (ROOT / p).is_dir()]
    assert not not_folders, not_folders


def test_every_feature_package_is_on_the_map() -> None:
    on_map = set(mapped_paths())
    packages = [
        f"{service}/{folder.name}/"
        for service in ("business", "ml_engine")
        for folder in sorted((ROOT / service).iterdir())
        if (folder / "__init__.py").exists()
    ]
    assert packages, "no feature packages found"
    absent = [p for p in packages if p not in on_map]
    assert not absent, f"feature packages missing from docs/architecture.md: {absent}"
