"""The edge's plan check cost: p50 of the same calls through two Envoys in one run, one rendered as
always (the plan check, envoy/plan_check.lua, after jwt_authn) and one rendered without that
filter, both in front of the same services.

    python -m bench.plans [--requests 2000] [--rounds 10]

Starts a private Stack (its Envoy has the plan check), then a second Envoy from the same settings
without the `trading.plan_check` filter. Calls, sequential on one keep-alive HTTP/1.1 connection
per edge, alternating between the two edges in rounds (so drift on this shared machine hits both):

  plan-rpc   POST /api/learning/pro-courses/x/enrollment with a pro token: the RPC's access rule
             lists plan pro, so the check reads the token's plan and lets it by (business then
             answers 404: no such course)
  other-rpc  GET /api/stats with the same token: no plan rule, the check only looks the path up

and, with the check only, `refused`: the plan RPC with a free token, answered 403 by Envoy itself.
Every answer's status is checked. Writes bench/results/plans-<time>.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.support.ports import free_ports

RESULTS_DIR = Path(__file__).resolve().parent / "results"
PLAN_RPC = "/api/learning/pro-courses/no-such-course/enrollment"
OTHER_RPC = "/api/stats"


def without_plan_check(config: dict[str, Any]) -> dict[str, Any]:
    """The rendered config with the plan check filter taken out of every listener."""
    for listener in config["static_resources"]["listeners"]:
        for chain in listener["filter_chains"]:
            for network_filter in chain["filters"]:
                manager = network_filter["typed_config"]
                if "http_filters" in manager:
                    manager["http_filters"] = [
                        f for f in manager["http_filters"] if f["name"] != "trading.plan_check"
                    ]
    return config


def start_envoy(config: dict[str, Any], folder: Path, port: int, admin_port: int) -> subprocess.Popen[bytes]:
    from envoy.binary import envoy_binary
    from tools.supervisor import ROOT, http_ok

    path = folder / "envoy-no-plan-check.json"
    path.write_text(json.dumps(config))
    log = (folder / "envoy-no-plan-check.log").open("wb")
    envoy = subprocess.Popen(
        [str(envoy_binary()), "-c", str(path), "--base-id", str(port), "--log-level", "warn"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while not http_ok(f"http://127.0.0.1:{admin_port}/ready"):
        if envoy.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the second Envoy did not start; see its log in " + str(folder))
        time.sleep(0.1)
    return envoy


def timed(client: httpx.Client, method: str, path: str, expected: int, count: int) -> list[float]:
    out = []
    for _ in range(count):
        started = time.perf_counter()
        reply = client.request(method, path, json={} if method == "POST" else None)
        out.append((time.perf_counter() - started) * 1000)
        if reply.status_code != expected:
            raise RuntimeError(
                f"{method} {path}: {reply.status_code} (expected {expected}) {reply.text[:200]}"
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000, help="calls per case and edge, in all")
    parser.add_argument("--rounds", type=int, default=10, help="alternations between the two edges")
    args = parser.parse_args(argv)

    from envoy.render import render
    from envoy.settings import EdgeSettings
    from service_runtime.signing_keys import SigningKeyStore
    from service_runtime.token_claims import access_claims
    from tools.supervisor import Stack

    tmp = Path(tempfile.mkdtemp(prefix="bench-plans-"))
    ports = free_ports(7)
    env = dict(os.environ)
    env.update(
        {
            "ENVOY_PORT": str(ports[0]),
            "ENVOY_ADMIN_PORT": str(ports[1]),
            "BUSINESS_GRPC_PORT": str(ports[2]),
            "ML_GRPC_PORT": str(ports[3]),
            "GATEWAY_PORT": str(ports[4]),
            "BUSINESS_METRICS_PORT": "0",
            "ML_METRICS_PORT": "0",
            "JWT_KEYS_DIR": str(tmp / "keys"),
            "DEV_TOKENS_ENABLED": "false",
            "RATE_LIMIT_SCALE": "1000",
            "DATABASE_URL": f"sqlite:///{tmp / 'business.db'}",
            "MARKET_SQLITE_PATH": str(tmp / "market.db"),
            "REDIS_URL": "",
            "LOG_LEVEL": "WARNING",
        }
    )
    stack = Stack(env=env, log_dir=tmp / "logs")
    keys = SigningKeyStore(tmp / "keys")
    keys.ensure()

    def token(plan: str) -> str:
        claims = access_claims(
            subject=f"bench-{plan}",
            roles=["user"],
            plan=plan,
            issuer=stack.edge.jwt_issuer,
            audience=stack.edge.jwt_audience,
            ttl_s=3600,
            now=time.time(),
        )
        return keys.sign(claims)

    pro, free = token("pro"), token("free")
    per_round = max(1, args.requests // args.rounds)
    samples: dict[str, list[float]] = {
        k: [] for k in ("plan-rpc with", "plan-rpc without", "other-rpc with", "other-rpc without", "refused")
    }
    print(f"starting stack (logs in {tmp / 'logs'}) ...", flush=True)
    second = None
    try:
        stack.start()
        bare = without_plan_check(
            render(
                EdgeSettings.from_environment(
                    {**env, "ENVOY_PORT": str(ports[5]), "ENVOY_ADMIN_PORT": str(ports[6])}
                )
            )
        )
        second = start_envoy(bare, tmp, ports[5], ports[6])
        edges = {"with": f"http://127.0.0.1:{ports[0]}", "without": f"http://127.0.0.1:{ports[5]}"}
        auth = {"authorization": f"Bearer {pro}"}
        with (
            httpx.Client(base_url=edges["with"], headers=auth) as with_check,
            httpx.Client(base_url=edges["without"], headers=auth) as without_check,
            httpx.Client(base_url=edges["with"], headers={"authorization": f"Bearer {free}"}) as refused,
        ):
            clients = {"with": with_check, "without": without_check}
            for client in clients.values():  # warm-up: connections, JWKS fetch, caches
                timed(client, "POST", PLAN_RPC, 404, 50)
                timed(client, "GET", OTHER_RPC, 200, 50)
            timed(refused, "POST", PLAN_RPC, 403, 50)
            for round_number in range(args.rounds):
                order = ("with", "without") if round_number % 2 == 0 else ("without", "with")
                for name in order:
                    samples[f"plan-rpc {name}"] += timed(clients[name], "POST", PLAN_RPC, 404, per_round)
                    samples[f"other-rpc {name}"] += timed(clients[name], "GET", OTHER_RPC, 200, per_round)
                samples["refused"] += timed(refused, "POST", PLAN_RPC, 403, per_round)
    finally:
        if second is not None:
            second.terminate()
            second.wait(10)
        stack.stop()

    p50 = {name: statistics.median(values) for name, values in samples.items()}
    rows = [
        "| call | p50 with the plan check (ms) | p50 without (ms) | cost (µs) | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for case in ("plan-rpc", "other-rpc"):
        with_ms, without_ms = p50[f"{case} with"], p50[f"{case} without"]
        rows.append(
            f"| {case} | {with_ms:.3f} | {without_ms:.3f} | {(with_ms - without_ms) * 1000:.0f} | "
            f"{with_ms / without_ms:.3f} |"
        )
    rows.append(f"| refused (free token, 403 by Envoy) | {p50['refused']:.3f} | - | - | - |")
    print()
    print(f"{per_round * args.rounds} sequential calls per case and edge, {os.cpu_count()} CPU cores shared")
    print("\n".join(rows))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"plans-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(
        json.dumps(
            {
                "requests_per_case": per_round * args.rounds,
                "rounds": args.rounds,
                "cpu_count": os.cpu_count(),
                "python": sys.version.split()[0],
                "p50_ms": p50,
            },
            indent=2,
        )
    )
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
