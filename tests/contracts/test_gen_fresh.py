"""gen/ must be exactly what proto/ generates: nobody edits generated code by hand."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUF = str(Path(sys.executable).parent / "buf")


def _files(folder: Path) -> set[str]:
    return {
        str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    # The same recipe as `make gen` (buf generate + buf build), written under tmp_path/gen.
    result = subprocess.run(
        ["make", "--no-print-directory", "generate", f"GEN_ROOT={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    committed, fresh = _files(ROOT / "gen"), _files(tmp_path / "gen")
    assert committed == fresh, f"gen/ differs in files: {sorted(committed ^ fresh)}; run `make gen`"
    stale = [
        f for f in sorted(fresh) if not filecmp.cmp(ROOT / "gen" / f, tmp_path / "gen" / f, shallow=False)
    ]
    assert not stale, f"stale generated files {stale}: run `make gen` and commit gen/"


def test_buf_lint_is_clean() -> None:
    subprocess.run([sys.executable, str(ROOT / "tools" / "proto_deps.py")], check=True)
    result = subprocess.run([BUF, "lint"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_buf_format_is_clean() -> None:
    result = subprocess.run(
        [BUF, "format", "--diff", "--exit-code", "proto"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, f"run `buf format -w proto`:\n{result.stdout}{result.stderr}"
