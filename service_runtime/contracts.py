"""The platform's contracts as generated Python modules."""

from __future__ import annotations

import importlib
from pathlib import Path

import trading


def platform_services() -> list[str]:
    """Full names of every service in the `trading.*` contracts.

    Importing every generated module registers its descriptors, so server reflection can
    describe the whole public API (the edge routes reflection to one service)."""
    names: list[str] = []
    # Generated packages have no __init__.py, so walk the files rather than pkgutil.
    for root in trading.__path__:
        for path in sorted(Path(root).rglob("*_pb2.py")):
            dotted = ".".join(path.relative_to(Path(root).parent).with_suffix("").parts)
            module = importlib.import_module(dotted)
            names.extend(s.full_name for s in module.DESCRIPTOR.services_by_name.values())
    return sorted(names)
