"""What the end-to-end benchmarks share: a private stack's environment (its own ports, temp keys,
no sample data, quiet logs), where a run's report is written, and running a measuring client in a
process of its own.

Each benchmark's stack has fixed ports of its own, all under 32768, below the range Linux hands
out to outgoing connections (32768-60999): a fixed port inside it can be held by any client
socket. `make bench` lost its auth step that way: its Envoy could not bind 38080 ("address
already in use", nothing listening there) seconds after the edge step's clients closed. Ports:
edge 25051/25052/28000/28080/29901, market data 251xx/281xx/29911, auth 252xx/282xx/29921 and
its second Envoy 28281/29922, education 253xx/283xx/29931, paper trading 254xx/284xx/29941, ML
255xx/285xx/29951.
"""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


def private_stack_env(tmp: Path, ports: dict[str, int], database_url: str) -> dict[str, str]:
    """The environment of a Stack on `ports` (ENVOY_PORT, ML_GRPC_PORT, ...) with its files in `tmp`."""
    env = dict(os.environ)
    env.update({k: str(v) for k, v in ports.items()})
    env.update(
        {
            "APP_ENV": "test",
            "BUSINESS_METRICS_PORT": "0",
            "ML_METRICS_PORT": "0",
            "JWT_KEYS_DIR": str(tmp / "keys"),
            "DEV_TOKENS_ENABLED": "false",
            "RATE_LIMIT_SCALE": "1000",
            "DATABASE_URL": database_url,
            "ML_SERVICE_URL": f"127.0.0.1:{ports['ML_GRPC_PORT']}",
            "MARKET_SQLITE_PATH": str(tmp / "market.db"),
            "LOAD_SAMPLE_DATA": "false",
            "LOG_LEVEL": "WARNING",
            "MAIL_BACKEND": "console",
            "SMS_BACKEND": "console",
        }
    )
    return env


def write_report(name: str, report: dict[str, Any]) -> None:
    """Prints the report and keeps it as bench/results/<name>.json."""
    print(json.dumps(report, indent=2))
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(report, indent=2))


def in_subprocess(function: Callable[..., Any], *args: Any) -> Any:
    """`function(*args)` in a fresh spawned process (no state, event loop or GC shared with the
    caller, as a real client's), and its result."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(function, *args).result()
