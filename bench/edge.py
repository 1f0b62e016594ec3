"""Edge benchmark: the same RPC (EngineService.GetStats, empty request) over four paths.

    python -m bench.edge [--seconds 5] [--concurrency 1 32]

Starts a private Stack (ml_engine, business, gateway, Envoy) on its own ports with temp keys and
databases, mints an access token, then measures per (path, concurrency) cell:

  grpc-direct   native gRPC straight to ml_engine (grpc.aio)
  grpc-envoy    native gRPC through Envoy (grpc.aio)
  rest-envoy    REST GET /api/stats through Envoy (raw asyncio HTTP/1.1 keep-alive client)
  grpcweb-envoy gRPC-Web POST through Envoy (raw asyncio HTTP/1.1 keep-alive client)

and, asked for with --paths, the same native gRPC calls from a second client, grpc's blocking
stub (one thread per concurrent caller, no asyncio), which tells the client's cost from Envoy's:

  grpc-direct-sync / grpc-envoy-sync

Each cell runs in a fresh load-generator process (so the client of one path does not share an
event loop or GC with another), which also samples the CPU time of every stack process
(/proc/<pid>/stat) over its measured window, so the table shows which component saturates.
Every response is checked; any error makes the run exit non-zero.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import multiprocessing
import os
import platform
import struct
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

PATHS = ("grpc-direct", "grpc-envoy", "rest-envoy", "grpcweb-envoy")
SYNC_PATHS = ("grpc-direct-sync", "grpc-envoy-sync")
GRPC_METHOD = "/trading.ml.v1.EngineService/GetStats"
# Below the kernel's ephemeral ports: bench/private_stack.py says why.
PORTS = {
    "ENVOY_PORT": 28080,
    "ENVOY_ADMIN_PORT": 29901,
    "BUSINESS_GRPC_PORT": 25051,
    "ML_GRPC_PORT": 25052,
    "GATEWAY_PORT": 28000,
}
RESULTS_DIR = Path(__file__).resolve().parent / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class CellSpec:
    path: str
    concurrency: int
    seconds: float
    warmup_s: float
    token: str
    ml_target: str
    envoy_host: str
    envoy_port: int
    stack_pids: dict[str, int] = field(default_factory=dict)


@dataclass
class CellResult:
    path: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    rps: float
    loadgen_cpu_s: float
    first_error: str = ""
    stack_cpu_cores: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------- load generator


class HttpConn:
    """One HTTP/1.1 keep-alive connection; just enough parsing for Envoy's replies."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None and self.writer is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            if line:
                key, _, value = line.partition(b":")
                headers[key.strip().lower()] = value.strip()
        if b"content-length" in headers:
            body = await self.reader.readexactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")  # no trailers from Envoy here
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            body = b"".join(parts)
        else:
            body = b""
        if headers.get(b"connection", b"").lower() == b"close":
            self.writer.close()
            self.writer = None
        return status, headers, body


def _grpc_web_status(headers: dict[bytes, bytes], body: bytes) -> str | None:
    """None when the gRPC-Web reply is OK, else a description of what went wrong."""
    if b"grpc-status" in headers:  # trailers-only reply
        code = headers[b"grpc-status"]
        return None if code == b"0" and body else f"header grpc-status {code!r}"
    offset, saw_data = 0, False
    while offset + 5 <= len(body):
        flags, length = struct.unpack(">BI", body[offset : offset + 5])
        payload = body[offset + 5 : offset + 5 + length]
        offset += 5 + length
        if flags & 0x80:
            for line in payload.split(b"\r\n"):
                key, _, value = line.partition(b":")
                if key.strip().lower() == b"grpc-status":
                    if value.strip() != b"0":
                        return f"trailer grpc-status {value.strip()!r}"
                    return None if saw_data else "no data frame"
            return "trailer frame without grpc-status"
        saw_data = True
    return "no trailer frame"


Call = Callable[[HttpConn | None], Awaitable[str | None]]


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


@dataclass
class LoopOutcome:
    # Seconds per successful call of the measured window, sorted.
    latencies: list[float]
    errors: int
    first_error: str
    elapsed: float


async def closed_loop(
    call: Call,
    new_conn: Callable[[], HttpConn | None],
    concurrency: int,
    warmup_s: float,
    seconds: float,
    on_measure: Callable[[], None] | None = None,
) -> LoopOutcome:
    """`concurrency` workers each send the next call as soon as the last answered: a warm-up of
    `warmup_s`, then `seconds` measured (`on_measure` runs just before). `call` answers None or
    what went wrong; an exception counts as an error too, and drops the worker's connection."""
    latencies: list[float] = []
    errors, first_error, measuring = 0, "", False

    async def worker(deadline: float) -> None:
        nonlocal errors, first_error
        conn = new_conn()
        while (start := time.perf_counter()) < deadline:
            try:
                problem = await call(conn)
            except Exception as exc:  # any failure counts as an error
                problem = f"{type(exc).__name__}: {exc}"
                if conn is not None:
                    conn.writer = None
            took = time.perf_counter() - start
            if not measuring:
                continue
            if problem is None:
                latencies.append(took)
            else:
                errors += 1
                first_error = first_error or problem[:300]

    warm_end = time.perf_counter() + warmup_s
    await asyncio.gather(*(worker(warm_end) for _ in range(concurrency)))
    measuring = True
    if on_measure is not None:
        on_measure()
    began = time.perf_counter()
    await asyncio.gather(*(worker(began + seconds) for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return LoopOutcome(latencies, errors, first_error, elapsed)


def threaded_closed_loop(
    call: Callable[[], None],
    concurrency: int,
    warmup_s: float,
    seconds: float,
    on_measure: Callable[[], None],
) -> LoopOutcome:
    """closed_loop's twin for a blocking client: one thread per concurrent caller."""
    import threading

    latencies: list[float] = []
    problems: list[str] = []
    measuring = threading.Event()

    def worker(deadline: float) -> None:
        while (start := time.perf_counter()) < deadline:
            try:
                call()
            except Exception as exc:  # any failure counts as an error
                problems.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            if measuring.is_set():
                latencies.append(time.perf_counter() - start)

    def run(deadline: float) -> None:
        threads = [threading.Thread(target=worker, args=(deadline,)) for _ in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    run(time.perf_counter() + warmup_s)
    problems.clear()
    measuring.set()
    on_measure()
    began = time.perf_counter()
    run(began + seconds)
    latencies.sort()
    return LoopOutcome(latencies, len(problems), problems[0] if problems else "", time.perf_counter() - began)


def _sync_outcome(spec: CellSpec, on_measure: Callable[[], None]) -> LoopOutcome:
    import grpc

    from trading.ml.v1 import engine_service_pb2, engine_service_pb2_grpc

    request = engine_service_pb2.GetStatsRequest()
    metadata = (("authorization", f"Bearer {spec.token}"),)
    target = spec.ml_target if spec.path == "grpc-direct-sync" else f"{spec.envoy_host}:{spec.envoy_port}"
    with grpc.insecure_channel(target) as channel:
        stub = engine_service_pb2_grpc.EngineServiceStub(channel)
        return threaded_closed_loop(
            lambda: stub.GetStats(request, metadata=metadata, timeout=10),
            spec.concurrency,
            spec.warmup_s,
            spec.seconds,
            on_measure,
        )


async def _run_cell(spec: CellSpec) -> CellResult:
    import grpc

    from trading.ml.v1 import engine_service_pb2, engine_service_pb2_grpc

    request = engine_service_pb2.GetStatsRequest()
    metadata = (("authorization", f"Bearer {spec.token}"),)
    channel: grpc.aio.Channel | None = None
    if spec.path in SYNC_PATHS:
        measured = Measured(spec)
        return measured.result(_sync_outcome(spec, measured.snapshot))
    host = f"{spec.envoy_host}:{spec.envoy_port}"
    call: Call

    if spec.path in ("grpc-direct", "grpc-envoy"):
        target = spec.ml_target if spec.path == "grpc-direct" else host
        channel = grpc.aio.insecure_channel(target)
        stub = engine_service_pb2_grpc.EngineServiceStub(channel)

        async def call_grpc(_conn: HttpConn | None) -> str | None:
            await stub.GetStats(request, metadata=metadata, timeout=10)
            return None

        call = call_grpc
    elif spec.path == "rest-envoy":
        raw = (
            f"GET /api/stats HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {spec.token}\r\nAccept: application/json\r\n\r\n"
        ).encode()

        async def call_rest(conn: HttpConn | None) -> str | None:
            assert conn is not None
            status, _, body = await conn.request(raw)
            if status != 200 or not body.startswith(b"{"):
                return f"HTTP {status}: {body[:200]!r}"
            return None

        call = call_rest
    else:
        message = request.SerializeToString()
        frame = struct.pack(">BI", 0, len(message)) + message
        raw = (
            f"POST {GRPC_METHOD} HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {spec.token}\r\n"
            "Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\n"
            f"Content-Length: {len(frame)}\r\n\r\n"
        ).encode() + frame

        async def call_web(conn: HttpConn | None) -> str | None:
            assert conn is not None
            status, headers, body = await conn.request(raw)
            if status != 200:
                return f"HTTP {status}: {body[:200]!r}"
            return _grpc_web_status(headers, body)

        call = call_web

    measured = Measured(spec)
    try:
        outcome = await closed_loop(
            call,
            lambda: None if channel is not None else HttpConn(spec.envoy_host, spec.envoy_port),
            spec.concurrency,
            spec.warmup_s,
            spec.seconds,
            on_measure=measured.snapshot,
        )
        return measured.result(outcome)
    finally:
        if channel is not None:
            await channel.close()


class Measured:
    """CPU of the load generator and of every stack process over exactly the measured window."""

    def __init__(self, spec: CellSpec) -> None:
        self.spec = spec
        self.before: dict[str, float] = {}
        self.cpu0 = 0.0

    def snapshot(self) -> None:
        self.before = {n: _cpu_seconds(p) for n, p in self.spec.stack_pids.items()}
        self.cpu0 = time.process_time()

    def result(self, outcome: LoopOutcome) -> CellResult:
        spec, elapsed, latencies = self.spec, outcome.elapsed, outcome.latencies
        cpu = time.process_time() - self.cpu0
        stack_cpu = {n: (_cpu_seconds(p) - self.before[n]) / elapsed for n, p in spec.stack_pids.items()}
        return CellResult(
            spec.path,
            spec.concurrency,
            len(latencies),
            outcome.errors,
            elapsed,
            percentile(latencies, 0.5) * 1000,
            percentile(latencies, 0.99) * 1000,
            len(latencies) / elapsed,
            cpu,
            outcome.first_error,
            stack_cpu,
        )


def run_cell(spec: CellSpec) -> CellResult:
    """Entry point of the load-generator process."""
    return asyncio.run(_run_cell(spec))


# --------------------------------------------------------------------------- stack + report


def _cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def mint_token(keys_dir: Path, issuer: str, audience: str) -> str:
    from service_runtime.signing_keys import SigningKeyStore
    from service_runtime.token_claims import access_claims

    store = SigningKeyStore(keys_dir)
    store.ensure()
    # A user's token (every RPC declares its roles, deny by default), in the one claim shape.
    return store.sign(
        access_claims(
            subject="bench",
            roles=["user"],
            plan="free",
            issuer=issuer,
            audience=audience,
            ttl_s=3600,
            now=time.time(),
        )
    )


def render(results: list[CellResult], concurrencies: list[int]) -> str:
    lines = [
        "| path | conc | p50 ms | p99 ms | req/s | errors | stack CPU (cores) | loadgen CPU (cores) "
        "| client CPU ms/request |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in results:
        cpu = ", ".join(f"{k} {v:.2f}" for k, v in r.stack_cpu_cores.items() if v >= 0.01)
        lines.append(
            f"| {r.path} | {r.concurrency} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | "
            f"{r.rps:.0f} | {r.errors} | {cpu} | {r.loadgen_cpu_s / r.seconds:.2f} | "
            f"{r.loadgen_cpu_s * 1000 / max(1, r.requests):.3f} |"
        )
    by = {(r.path, r.concurrency): r for r in results}
    lo, hi = min(concurrencies), max(concurrencies)
    lines += [
        "",
        f"| path | p50 ratio vs direct (c={lo}) | throughput ratio vs direct (c={hi}) |",
        "|---|---:|---:|",
    ]
    base_lo, base_hi = by.get(("grpc-direct", lo)), by.get(("grpc-direct", hi))
    for path in PATHS + SYNC_PATHS:
        a, b = by.get((path, lo)), by.get((path, hi))
        if a is None and b is None:
            continue
        p50 = f"{a.p50_ms / base_lo.p50_ms:.2f}x" if a and base_lo else "-"
        thr = f"{b.rps / base_hi.rps:.2f}x" if b and base_hi else "-"
        lines.append(f"| {path} | {p50} | {thr} |")
    lines += [
        "",
        f"CPU at c={hi} (cores; a Python service tops out near 1.0 because of the GIL; "
        f"{os.cpu_count()} cores in all):",
    ]
    for path in PATHS + SYNC_PATHS:
        cell = by.get((path, hi))
        if cell is None:
            continue
        cores = cell.stack_cpu_cores
        busiest = max(cores, key=lambda n: cores[n])
        total = sum(cores.values()) + cell.loadgen_cpu_s / cell.seconds
        lines.append(
            f"- {path}: busiest {busiest} {cores[busiest]:.2f}, "
            f"envoy {cores.get('envoy', 0):.2f}, stack+loadgen {total:.2f}; CPU per request: "
            f"ml_engine {cores.get('ml_engine', 0) * 1000 / cell.rps:.3f} ms, "
            f"envoy {cores.get('envoy', 0) * 1000 / cell.rps:.3f} ms"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per cell")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per cell")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--paths", nargs="+", choices=PATHS + SYNC_PATHS, default=list(PATHS))
    args = parser.parse_args(argv)

    from tools.supervisor import Stack

    tmp = Path(tempfile.mkdtemp(prefix="bench-edge-"))
    keys_dir = tmp / "keys"
    env = dict(os.environ)
    env.update({k: str(v) for k, v in PORTS.items()})
    env.update(
        {
            "BUSINESS_METRICS_PORT": "0",
            "ML_METRICS_PORT": "0",
            "JWT_KEYS_DIR": str(keys_dir),
            "DEV_TOKENS_ENABLED": "false",
            "RATE_LIMIT_SCALE": "1000",
            "DATABASE_URL": f"sqlite:///{tmp / 'business.db'}",
            "ML_SERVICE_URL": f"127.0.0.1:{PORTS['ML_GRPC_PORT']}",
            "MARKET_SQLITE_PATH": str(tmp / "market.db"),
            "LOG_LEVEL": "WARNING",
        }
    )
    stack = Stack(env=env, log_dir=tmp / "logs")
    token = mint_token(keys_dir, stack.edge.jwt_issuer, stack.edge.jwt_audience)
    results: list[CellResult] = []
    load_before = os.getloadavg()
    print(f"starting stack (logs in {tmp / 'logs'}) ...", flush=True)
    try:
        stack.start()
        pids = {name: child.process.pid for name, child in stack.children.items() if child.process}
        ctx = multiprocessing.get_context("spawn")
        for conc in args.concurrency:
            for path in args.paths:
                spec = CellSpec(
                    path,
                    conc,
                    args.seconds,
                    args.warmup,
                    token,
                    f"127.0.0.1:{PORTS['ML_GRPC_PORT']}",
                    "127.0.0.1",
                    PORTS["ENVOY_PORT"],
                    pids,
                )
                with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
                    result = pool.submit(run_cell, spec).result()
                results.append(result)
                print(
                    f"  {path:<14} c={conc:<3} p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms"
                    f"  {result.rps:7.0f} req/s  errors {result.errors}",
                    flush=True,
                )
                for name, child in stack.children.items():
                    if not child.running:
                        raise RuntimeError(f"{name} died during the benchmark")
    finally:
        stack.stop()

    table = render(results, args.concurrency)
    load_after = os.getloadavg()
    host = f"{platform.node()} ({platform.machine()}, {os.cpu_count()} cores)"
    command = " ".join(sys.argv[1:] if argv is None else argv)
    print()
    print(
        f"EngineService.GetStats, {args.seconds:g} s per cell after {args.warmup:g} s warm-up, "
        f"{os.cpu_count()} CPU cores shared by load generator and stack; Envoy --concurrency "
        f"{stack.edge.workers}; host {host}; load average (1 min) {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after; command: python -m bench.edge {command}"
    )
    print(table)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"edge-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(
        json.dumps(
            {
                "rpc": GRPC_METHOD,
                "seconds": args.seconds,
                "warmup": args.warmup,
                "cpu_count": os.cpu_count(),
                "host": host,
                "envoy_workers": stack.edge.workers,
                "load_average": {"before": load_before, "after": load_after},
                "python": sys.version.split()[0],
                "results": [asdict(r) for r in results],
            },
            indent=2,
        )
    )
    print(f"\nwrote {out}")
    failed = [r for r in results if r.errors or not r.requests]
    if failed:
        for r in failed:
            print(
                f"FAILED {r.path} c={r.concurrency}: {r.errors} errors, {r.requests} ok; "
                f"first error: {r.first_error}",
                file=sys.stderr,
            )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
