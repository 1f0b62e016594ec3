"""Identity benchmark, every figure from one run on one machine:

    python -m bench.auth [--logins 500] [--concurrency 1 8] [--requests 1500]   (make bench-auth)

1. argon2id alone, in process: time of one verify at the configured cost (ARGON2_* settings),
   and verifies per second with the service's hashing threads all busy: the ceiling of logins
   per second on this host, from which each concurrency's least possible mean latency follows.
2. Login through Envoy (POST /api/auth/login, REST): throughput and p50/p99 per concurrency.
   Each login is an argon2 verify plus a session, a refresh token and an audit row.
3. Token verification in a service, per request: TokenVerifier.verify (EdDSA signature and
   claims) in process, and the revocation look-up (one Redis MGET) when Redis is reachable.
4. User enumeration by timing: failed logins for an unknown email and for a known email with a
   wrong password, alternating (lock-outs raised for the run), p50 of each and the gap.
5. The latency jwt_authn adds at Envoy: GET /api/users/me through the normal Envoy and through
   a second Envoy rendered from the same config without the jwt_authn filter, in alternating
   rounds, same token, same upstream (business still verifies the token itself on both).

It starts a private Stack on its own ports with temp keys and SQLite (or DATABASE_URL /
REDIS_URL when given), so it does not touch a running system.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from bench.private_stack import private_stack_env
from envoy.binary import envoy_binary

if TYPE_CHECKING:
    from business.identity.domain.passwords import PasswordHasher

# Below the kernel's ephemeral ports: bench/private_stack.py says why.
PORTS = {
    "ENVOY_PORT": 28280,
    "ENVOY_ADMIN_PORT": 29921,
    "BUSINESS_GRPC_PORT": 25251,
    "ML_GRPC_PORT": 25252,
    "GATEWAY_PORT": 28200,
}
NO_JWT_PORT, NO_JWT_ADMIN_PORT = 28281, 29922
PASSWORD = "bench-correct-horse-battery-staple"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def argon2_figures() -> dict[str, float]:
    from business.config import BusinessSettings
    from business.identity.domain.passwords import PasswordHasher

    settings = BusinessSettings(_env_file=None)
    hasher = PasswordHasher(
        settings.argon2_time_cost,
        settings.argon2_memory_kib,
        settings.argon2_parallelism,
        settings.argon2_workers,
    )
    stored = hasher.hash(PASSWORD)
    samples = []
    for _ in range(20):
        started = time.perf_counter()
        assert hasher.verify(stored, PASSWORD)
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "time_cost": settings.argon2_time_cost,
        "memory_kib": settings.argon2_memory_kib,
        "parallelism": settings.argon2_parallelism,
        "verify_ms_p50": statistics.median(samples),
        "workers": hasher.workers,
        "ceiling_per_s": verify_ceiling(hasher, stored, VERIFIES_PER_WORKER),
    }


# Verifies per thread when the hashes alone are timed at the service's parallelism.
VERIFIES_PER_WORKER = 20


def verify_ceiling(hasher: PasswordHasher, stored: str, per_worker: int) -> float:
    """Verifies per second with the service's `workers` threads hashing at once and nothing else
    running here: the most logins per second the business service could give on this host
    (every login hashes once). By Little's law, n logins in flight then take n / ceiling seconds
    on average, whatever happens around the hash."""

    async def verify_all() -> None:
        await asyncio.gather(*(hasher.verify_async(stored, PASSWORD) for _ in range(total)))

    total = per_worker * hasher.workers
    started = time.perf_counter()
    asyncio.run(verify_all())
    return total / (time.perf_counter() - started)


def verification_figures(keys_dir: Path, issuer: str, audience: str, redis_url: str) -> dict[str, float]:
    from service_runtime.access import TokenVerifier, keys_from_folder
    from service_runtime.caller import Caller
    from service_runtime.revocations import RedisRevocations
    from service_runtime.signing_keys import SigningKeyStore

    store = SigningKeyStore(keys_dir)
    now = time.time()
    token = store.sign(
        {
            "iss": issuer,
            "aud": audience,
            "sub": "bench",
            "roles": ["user"],
            "plan": "free",
            "iat": now,
            "nbf": int(now),
            "exp": int(now) + 900,
            "jti": uuid.uuid4().hex,
            "sid": "s",
        }
    )
    verifier = TokenVerifier(keys_from_folder(keys_dir), issuer, audience)
    verifier.verify(token)  # loads the keys
    rounds = 5000
    started = time.perf_counter()
    for _ in range(rounds):
        verifier.verify(token)
    figures = {"verify_us": (time.perf_counter() - started) / rounds * 1e6}
    if redis_url:

        async def lookups() -> float:
            revocations = RedisRevocations(redis_url, 60)
            caller = Caller("bench", frozenset({"user"}), "free", session_id="s", issued_at=now)
            await revocations.is_revoked(caller)
            begun = time.perf_counter()
            for _ in range(2000):
                await revocations.is_revoked(caller)
            elapsed = (time.perf_counter() - begun) / 2000 * 1e6
            await revocations.close()
            return elapsed

        figures["revocation_lookup_us"] = asyncio.run(lookups())
    return figures


async def login_figures(edge: str, email: str, logins: int, concurrency: int) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    remaining = logins

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            res = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
            latencies.append((time.perf_counter() - started) * 1000)
            if res.status_code != 200 or "tokens" not in res.json():
                errors += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=edge, timeout=60, limits=limits) as client:
        begun = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - begun
    return {
        "concurrency": concurrency,
        "logins": len(latencies),
        "errors": errors,
        "per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies),
        "p99_ms": percentile(latencies, 0.99),
    }


def enumeration_figures(edge: str, email: str, rounds: int) -> dict[str, Any]:
    samples: dict[str, list[float]] = {"unknown_email": [], "wrong_password": []}
    bodies: dict[str, set[str]] = {"unknown_email": set(), "wrong_password": set()}
    with httpx.Client(base_url=edge, timeout=30) as client:
        for n in range(rounds):
            for case, body in (
                ("unknown_email", {"email": f"nobody-{n}@example.com", "password": PASSWORD}),
                ("wrong_password", {"email": email, "password": PASSWORD + "-wrong"}),
            ):
                started = time.perf_counter()
                res = client.post("/api/auth/login", json=body)
                samples[case].append((time.perf_counter() - started) * 1000)
                bodies[case].add(f"{res.status_code} {res.json().get('message')}")
    if bodies["unknown_email"] != bodies["wrong_password"] or len(bodies["unknown_email"]) != 1:
        raise RuntimeError(f"the two failures answer differently: {bodies}")
    unknown, wrong = statistics.median(samples["unknown_email"]), statistics.median(samples["wrong_password"])
    return {
        "rounds": rounds,
        "answer": bodies["unknown_email"].pop(),
        "unknown_email_p50_ms": unknown,
        "wrong_password_p50_ms": wrong,
        "gap_ms": unknown - wrong,
        "gap_ratio": unknown / wrong,
    }


def jwt_overhead(with_jwt: str, without_jwt: str, token: str, requests: int) -> dict[str, float]:
    headers = {"authorization": f"Bearer {token}"}
    samples: dict[str, list[float]] = {"with": [], "without": []}
    with (
        httpx.Client(base_url=with_jwt, timeout=10) as a,
        httpx.Client(base_url=without_jwt, timeout=10) as b,
    ):
        for client in (a, b):
            for _ in range(50):  # warm connections, caches and the JWKS fetch
                assert client.get("/api/users/me", headers=headers).status_code == 200
        # Alternate in small rounds so drift on a shared machine hits both sides alike.
        for _ in range(requests // 50):
            for name, client in (("with", a), ("without", b)):
                for _ in range(50):
                    started = time.perf_counter()
                    res = client.get("/api/users/me", headers=headers)
                    samples[name].append((time.perf_counter() - started) * 1000)
                    if res.status_code != 200:
                        raise RuntimeError(f"GET /api/users/me answered {res.status_code}: {res.text}")
    with_p50, without_p50 = statistics.median(samples["with"]), statistics.median(samples["without"])
    return {
        "requests_each": len(samples["with"]),
        "with_p50_ms": with_p50,
        "without_p50_ms": without_p50,
        "added_p50_ms": with_p50 - without_p50,
        "ratio": with_p50 / without_p50,
        "with_p99_ms": percentile(samples["with"], 0.99),
        "without_p99_ms": percentile(samples["without"], 0.99),
    }


def start_envoy_without_jwt(config_path: Path, tmp: Path) -> subprocess.Popen[bytes]:
    config: dict[str, Any] = json.loads(config_path.read_text())
    listener = config["static_resources"]["listeners"][0]
    listener["address"]["socket_address"]["port_value"] = NO_JWT_PORT
    config["admin"]["address"]["socket_address"]["port_value"] = NO_JWT_ADMIN_PORT
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    manager["http_filters"] = [
        f for f in manager["http_filters"] if f["name"] != "envoy.filters.http.jwt_authn"
    ]
    path = tmp / "envoy-no-jwt.json"
    path.write_text(json.dumps(config))
    envoy = str(envoy_binary())
    with open(tmp / "envoy-no-jwt.log", "wb") as log:  # the child keeps its own copy of the handle
        process = subprocess.Popen(
            [envoy, "-c", str(path), "--log-level", "warn", "--base-id", str(NO_JWT_PORT)],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{NO_JWT_ADMIN_PORT}/ready", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("the Envoy without jwt_authn did not become ready")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--logins", type=int, default=500, help="logins per concurrency level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--requests", type=int, default=1500, help="GET /api/users/me per Envoy")
    parser.add_argument("--rounds", type=int, default=100, help="failed logins of each kind")
    args = parser.parse_args(argv)

    from tools.supervisor import Stack

    tmp = Path(tempfile.mkdtemp(prefix="bench-auth-"))
    keys_dir = tmp / "keys"
    env = private_stack_env(tmp, PORTS, os.environ.get("DATABASE_URL", f"sqlite:///{tmp / 'business.db'}"))
    # The enumeration figures need many failed logins from one address.
    env.update({"ATTEMPT_LIMIT_PER_ACCOUNT": "100000", "ATTEMPT_LIMIT_PER_IP": "100000"})
    redis_url = env.get("REDIS_URL", "")
    stack = Stack(env=env, log_dir=tmp / "logs")
    edge = f"http://127.0.0.1:{PORTS['ENVOY_PORT']}"
    print(f"starting stack (logs in {tmp / 'logs'}) ...", flush=True)
    no_jwt: subprocess.Popen[bytes] | None = None
    report: dict[str, Any] = {"cpu_cores": os.cpu_count(), "redis": bool(redis_url)}
    try:
        stack.start()
        no_jwt = start_envoy_without_jwt(stack.envoy_config, tmp)
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        res = httpx.post(f"{edge}/api/auth/register", json={"email": email, "password": PASSWORD}, timeout=30)
        res.raise_for_status()
        report["argon2"] = argon2_figures()
        hashes = report["argon2"]
        print(
            f"argon2id verify: {hashes['verify_ms_p50']:.1f} ms; {hashes['workers']} at once: "
            f"{hashes['ceiling_per_s']:.1f}/s (the ceiling of logins/s here)",
            flush=True,
        )
        report["login"] = [asyncio.run(login_figures(edge, email, args.logins, c)) for c in args.concurrency]
        for row in report["login"]:
            row["mean_floor_ms"] = row["concurrency"] / hashes["ceiling_per_s"] * 1000
            print(
                f"login c={row['concurrency']}: {row['per_s']:.1f}/s p50 {row['p50_ms']:.1f} ms "
                f"p99 {row['p99_ms']:.1f} ms errors {row['errors']} "
                f"(mean at least {row['mean_floor_ms']:.0f} ms at the ceiling)",
                flush=True,
            )
        report["enumeration"] = enumeration_figures(edge, email, args.rounds)
        print(
            f"failed login p50: unknown email {report['enumeration']['unknown_email_p50_ms']:.1f} ms, "
            f"wrong password {report['enumeration']['wrong_password_p50_ms']:.1f} ms",
            flush=True,
        )
        token = httpx.post(
            f"{edge}/api/auth/login", json={"email": email, "password": PASSWORD}, timeout=30
        ).json()["tokens"]["accessToken"]
        report["verification"] = verification_figures(
            keys_dir, stack.edge.jwt_issuer, stack.edge.jwt_audience, redis_url
        )
        report["jwt_authn"] = jwt_overhead(edge, f"http://127.0.0.1:{NO_JWT_PORT}", token, args.requests)
    finally:
        if no_jwt is not None:
            no_jwt.terminate()
            no_jwt.wait()
        stack.stop()

    print(json.dumps(report, indent=2))
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "auth.json").write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
