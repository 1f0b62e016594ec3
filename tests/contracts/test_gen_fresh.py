"""gen/ must be exactly what proto/ generates: nobody edits generated code by hand."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _files(folder: Path) -> set[str]:
    return {
        str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    committed, fresh = _files(ROOT / "gen"), _files(tmp_path)
    assert committed == fresh, f"gen/ differs in files: {sorted(committed ^ fresh)}; run `make gen`"
    stale = [f for f in sorted(fresh) if not filecmp.cmp(ROOT / "gen" / f, tmp_path / f, shallow=False)]
    assert not stale, f"stale generated files {stale}: run `make gen` and commit gen/"


def test_buf_lint_is_clean() -> None:
    subprocess.run([sys.executable, str(ROOT / "tools" / "gen.py"), "--deps-only"], check=True)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "buf"), "lint"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_buf_format_is_clean() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "buf"), "format", "--diff", "--exit-code", "proto"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"run `buf format -w proto`:\n{result.stdout}{result.stderr}"
