"""Serving never imports torch (or the ONNX exporters): they live in the optional training extra."""

from __future__ import annotations

import subprocess
import sys


def test_ml_engine_process_modules_do_not_import_torch() -> None:
    code = (
        "import sys, ml_engine.main, gateway.web_app\n"
        "heavy = sorted(m for m in ('torch', 'onnxscript', 'onnxmltools', 'ml_engine.training') if m in "
        "sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "", f"serving imported {result.stdout.strip()}"
