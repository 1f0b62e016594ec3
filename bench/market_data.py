"""Market data benchmarks, each a ratio measured in one run:

    python -m bench.market_data [--import-bars 200000] [--requests 30]

1. import rate into MySQL (bars/s): our validating, idempotent importer vs a plain bulk INSERT of
   the same rows (the floor of what the database can take), and the same importer into SQLite;
2. `GET /api/history/{symbol}` of 5000 bars: REST through Envoy (the JSON the engine renders, and
   the same JSON printed by Envoy's transcoder at `/transcoded`) vs native gRPC through Envoy and
   gRPC straight to the engine (median latency of sequential calls);
3. indicators over 100k bars: the GetIndicators RPC (gRPC, direct) vs calling TA-Lib on the same
   arrays in-process, and the floor of the transport: the same reply, captured from the engine, served
   from memory by a bare gRPC server (no interceptors, no computing) to the same client stub. The RPC
   twice: each call another request for the same bars (a distinct far-future `end`: the reply is
   computed), and the same request again (the reply the engine kept for this bar, as a chart that
   many users open gets it). The packed cells (computed, kept, TA-Lib, floor) run in alternating
   rounds, each a fresh process, and report the median of the rounds.

Needs MariaDB/MySQL (BENCH_MYSQL_HOST, default 127.0.0.1, root without password): it creates and
drops a database of its own. Starts a private stack on its own ports against that database.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import io
import itertools
import json
import multiprocessing
import os
import statistics
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import httpx
import numpy as np
import talib
from sqlalchemy import create_engine
from sqlalchemy import text as sql

from bench.edge import HttpConn
from bench.private_stack import in_subprocess
from ml_engine.market_data.bar_windows import BarWindows
from ml_engine.market_data.data import repository as repo
from ml_engine.market_data.data.tables import bars as bars_table
from ml_engine.market_data.domain.symbols import SymbolInfo
from ml_engine.market_data.domain.timeframes import parse_timeframe
from ml_engine.market_data.domain.times import format_time
from ml_engine.market_data.importing.importer import ImportTarget, import_csv
from ml_engine.shared.database import MarketStore
from trading.market.v1 import indicator_service_pb2 as ind_pb
from trading.market.v1 import indicator_service_pb2_grpc as ind_grpc
from trading.market.v1 import market_data_service_pb2 as md_pb
from trading.market.v1 import market_data_service_pb2_grpc as md_grpc

# Below the kernel's ephemeral ports: bench/private_stack.py says why.
PORTS = {
    "ENVOY_PORT": 28180,
    "ENVOY_ADMIN_PORT": 29911,
    "BUSINESS_GRPC_PORT": 25151,
    "ML_GRPC_PORT": 25152,
    "GATEWAY_PORT": 28100,
}
HOUR = 3600
INDICATORS = "rsi,macd,atr,bbands,stoch"
GRPC_OPTIONS = [("grpc.max_receive_message_length", 256 * 1024 * 1024)]


def random_walk_csv(n: int, seed: int = 7) -> tuple[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    open_ = np.r_[close[0], close[:-1]]
    spread = np.abs(rng.normal(0, 0.001, n)) * close
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread
    volume = rng.integers(100, 10_000, n).astype(float)
    t0 = 1_500_000_000 - 1_500_000_000 % HOUR
    times = t0 + np.arange(n) * HOUR
    lines = ["time,open,high,low,close,volume"]
    lines += [
        f"{t},{o!r},{h!r},{lo!r},{c!r},{v!r}"
        for t, o, h, lo, c, v in zip(
            times.tolist(),
            open_.tolist(),
            high.tolist(),
            low.tolist(),
            close.tolist(),
            volume.tolist(),
            strict=True,
        )
    ]
    return "\n".join(lines) + "\n", {"high": high, "low": low, "close": close, "volume": volume}


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds of `repeat` calls after one warm-up call."""
    fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def bench_import(mysql_url: str, sqlite_url: str, text: str, n: int) -> list[tuple[str, float]]:
    info = SymbolInfo("BENCH", "Benchmark random walk", "crypto", 0.0001, "USD", "UTC")
    target = ImportTarget("BENCH", parse_timeframe("1h"), info)
    rows: list[tuple[str, float]] = []
    for label, url in (("importer → MySQL", mysql_url), ("importer → SQLite", sqlite_url)):
        store = MarketStore(url)
        store.migrate()
        started = time.perf_counter()
        report = import_csv(store.engine, io.StringIO(text), target)
        rows.append((label, n / (time.perf_counter() - started)))
        assert report.rows_inserted == n, report
        if label.endswith("MySQL"):
            started = time.perf_counter()
            again = import_csv(store.engine, io.StringIO(text), target)
            rows.append(("re-import (no change) → MySQL", n / (time.perf_counter() - started)))
            assert again.rows_inserted == 0
            # The floor: the same rows as one plain multi-row INSERT, no parsing or validation.
            values = [
                {
                    "symbol": "BENCH",
                    "timeframe": "1m",
                    "ts": r["ts"],
                    "open": r["open"],
                    "high": r["high"],
                    "low": r["low"],
                    "close": r["close"],
                    "volume": r["volume"],
                }
                for r in _rows_of(store, n)
            ]
            started = time.perf_counter()
            with store.engine.begin() as conn:
                conn.execute(bars_table.insert(), values)
            rows.append(("plain bulk INSERT → MySQL (floor)", n / (time.perf_counter() - started)))
        store.close()
    return rows


def _rows_of(store: MarketStore, n: int) -> list[dict[str, float]]:
    with store.engine.connect() as conn:
        loaded = repo.load_bars(conn, "BENCH", "1h")
    assert len(loaded) == n
    return [
        {
            "ts": int(loaded.times[i]),
            "open": loaded.open[i],
            "high": loaded.high[i],
            "low": loaded.low[i],
            "close": loaded.close[i],
            "volume": loaded.volume[i],
        }
        for i in range(n)
    ]


def timed_raw_get(target: str, headers: dict[str, str], size: int, repeat: int) -> float:
    """`timed` GET `target` through Envoy on one bench.edge HttpConn, each answer `size` bytes."""
    port = PORTS["ENVOY_PORT"]
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    raw = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{head}\r\n".encode()
    conn = HttpConn("127.0.0.1", port)
    loop = asyncio.new_event_loop()

    def get() -> None:
        status, _, body = loop.run_until_complete(conn.request(raw))
        assert status == 200 and len(body) == size, (status, body[:200])

    try:
        return timed(get, repeat)
    finally:
        if conn.writer is not None:
            conn.writer.close()
        loop.close()


def bench_history(token: str, repeat: int) -> dict[str, float]:
    """Each path in both wire forms: packed columns (what the web app asks for) and the deprecated
    Bar per bar. Bars come from the engine's bar cache after the warm-up call."""
    headers = {"authorization": f"Bearer {token}"}
    metadata = list(headers.items())
    results: dict[str, float] = {}
    # The REST route (GetHistoryJson: JSON the engine renders) and GetHistory's JSON printed by
    # Envoy's transcoder, the same JSON, at /transcoded.
    rest_paths = {
        "REST via Envoy": "/api/history/BENCH",
        "REST via Envoy, transcoded": "/api/history/BENCH/transcoded",
    }
    with httpx.Client(base_url=f"http://127.0.0.1:{PORTS['ENVOY_PORT']}", headers=headers) as http:
        for (label, path), packed in itertools.product(rest_paths.items(), (True, False)):
            params = {"limit": "5000", "timeframe": "1h"} | ({"packed": "true"} if packed else {})
            reply = http.get(path, params=params)
            body = reply.json()
            n = len(body["columns"]["close"]) if packed else len(body["bars"])
            assert reply.status_code == 200 and n == 5000, reply.text[:200]

            # Timed to the last byte of the answer: decoding 30k numbers with Python's json takes
            # longer than the whole call (timed on its own below), and a gRPC stub decodes in C.
            def rest(
                params: dict[str, str] = params, path: str = path, size: int = len(reply.content)
            ) -> None:
                reply = http.get(path, params=params)
                assert reply.status_code == 200 and len(reply.content) == size

            results[f"{label}{' (packed)' if packed else ''}"] = timed(rest, repeat)
            if packed:
                # Read by bench.edge's raw HTTP/1.1 connection too: the least work a REST client can
                # do, so that the row shows the server side rather than httpx's parsing (the gRPC
                # stub it is compared with reads in C).
                target = f"{path}?{urllib.parse.urlencode(params)}"
                results[f"{label} (packed), minimal HTTP client"] = timed_raw_get(
                    target, headers, len(reply.content), repeat
                )
            if packed and label == "REST via Envoy":
                raw = reply.content
                label_ = "decoding the packed JSON in the client (Python json; not in the REST rows)"
                results[label_] = timed(functools.partial(json.loads, raw), repeat)
    for label, port in (("gRPC via Envoy", PORTS["ENVOY_PORT"]), ("gRPC direct", PORTS["ML_GRPC_PORT"])):
        with grpc.insecure_channel(f"127.0.0.1:{port}", options=GRPC_OPTIONS) as channel:
            stub = md_grpc.MarketDataServiceStub(channel)
            for packed in (True, False):
                request = md_pb.GetHistoryRequest(symbol="BENCH", limit=5000, timeframe="1h", packed=packed)

                def call(
                    stub: md_grpc.MarketDataServiceStub = stub, request: md_pb.GetHistoryRequest = request
                ) -> None:
                    reply = stub.GetHistory(request, metadata=metadata, timeout=30)
                    assert len(reply.columns.close if request.packed else reply.bars) == 5000

                results[f"{label}{' (packed)' if packed else ''}"] = timed(call, repeat)
    return results


def talib_reference(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> Callable[[], None]:
    """TA-Lib computing what INDICATORS asks for, with the catalogue's default parameters."""

    def direct() -> None:
        talib.RSI(close, 14)
        talib.MACD(close, 12, 26, 9)
        talib.ATR(high, low, close, 14)
        talib.BBANDS(close, 20, 2.0, 2.0, talib.MA_Type.SMA)
        talib.STOCH(high, low, close, 14, 3, talib.MA_Type.SMA, 3, talib.MA_Type.SMA)

    return direct


# A far-future `end` (2100-01-01) plus the call's number: the same bars, another request, so the
# engine computes the reply again rather than answering the one it kept.
DISTINCT_END_FROM = 4_102_444_800


def indicator_client(
    port: int, token: str, request: bytes, repeat: int, distinct: bool = False
) -> tuple[float, bytes]:
    """Entry point of a process: a client as a real one is, in a process of its own, doing nothing
    but its calls. Median GetIndicators time and the last reply; with `distinct`, each call is
    another request for the same bars (computed, not kept). (In the bench's own process, or
    interleaved with TA-Lib's allocations, the same calls took 10-15 ms longer: receiving 8.5 MB
    then lands on cold pages; that is the measuring client, not the service.)"""
    parsed = ind_pb.GetIndicatorsRequest.FromString(request)
    metadata = [("authorization", f"Bearer {token}")] if token else []
    replies: list[ind_pb.GetIndicatorsResponse] = []
    calls = itertools.count()
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=GRPC_OPTIONS) as channel:
        stub = ind_grpc.IndicatorServiceStub(channel)

        def rpc() -> None:
            if distinct:
                parsed.end = format_time(DISTINCT_END_FROM + next(calls))
            replies[:] = [stub.GetIndicators(parsed, metadata=metadata, timeout=60)]
            assert len(replies[0].time_seconds if parsed.packed else replies[0].times) == parsed.limit

        rpc_s = timed(rpc, repeat)
    return rpc_s, replies[0].SerializeToString()


def talib_client(columns: tuple[np.ndarray, ...], repeat: int) -> float:
    """Entry point of a process: TA-Lib's median on `columns` (high, low, close), on its own."""
    return timed(talib_reference(*columns), repeat)


# Rounds of the packed cells, each cell once a round in a fresh process, the order reversed every
# other round: the host's speed drifts by minutes, and one cell after another had put a transport
# floor slower than the engine's own reply in the same run.
INDICATOR_ROUNDS = 3
# Calls per cell and round at least: with 3 (after one warm-up), a client process that had just
# started still met its first 8.5 MB replies on pages it had never touched, and the cells measured
# that (the transport floor 17.8 ms with 3 calls, 11.5 ms with 10, minutes apart); TA-Lib gets the same count.
CALLS_PER_ROUND = 10


def bench_indicators(
    token: str, columns: dict[str, np.ndarray], n: int, repeat: int, mysql_url: str
) -> dict[str, float]:
    talib_columns = tuple(columns[c] for c in ("high", "low", "close"))
    results: dict[str, float] = {}
    ml_port = PORTS["ML_GRPC_PORT"]
    deprecated = ind_pb.GetIndicatorsRequest(symbol="BENCH", indicators=[INDICATORS], limit=n)
    results[
        "GetIndicators RPC, gRPC direct, a Value per point (deprecated form), bars cached, reply computed"
    ] = in_subprocess(indicator_client, ml_port, token, deprecated.SerializeToString(), repeat, True)[0]
    request = ind_pb.GetIndicatorsRequest(symbol="BENCH", indicators=[INDICATORS], limit=n, packed=True)
    wire = request.SerializeToString()
    _, reply = in_subprocess(indicator_client, ml_port, token, wire, 1)
    per_round = max(CALLS_PER_ROUND, repeat // INDICATOR_ROUNDS)
    with bare_server(reply) as floor_port:
        cells: dict[str, Callable[[], float]] = {
            "GetIndicators RPC, gRPC direct, packed, bars cached, reply computed": lambda: in_subprocess(
                indicator_client, ml_port, token, wire, per_round, True
            )[0],
            "GetIndicators RPC, gRPC direct, packed, the reply kept for this bar": lambda: in_subprocess(
                indicator_client, ml_port, token, wire, per_round
            )[0],
            "TA-Lib in-process": lambda: in_subprocess(talib_client, talib_columns, per_round),
            f"the same reply ({len(reply) / 1e6:.1f} MB) from a bare gRPC server (transport floor)": (
                lambda: in_subprocess(indicator_client, floor_port, "", wire, per_round)[0]
            ),
        }
        medians: dict[str, list[float]] = {label: [] for label in cells}
        for round_ in range(INDICATOR_ROUNDS):
            for label in sorted(cells, reverse=round_ % 2 == 1):
                medians[label].append(float(cells[label]()))
    results |= {label: statistics.median(values) for label, values in medians.items()}
    # Where an uncached RPC's time goes: reading the bars from MySQL.
    store = MarketStore(mysql_url)
    windows = BarWindows(store.engine)
    series = windows.resolve("BENCH", "1h")
    results["reading the bars from MySQL (no cache, in-process)"] = timed(
        lambda: windows.latest(series, n + 33), max(3, repeat // 3)
    )
    store.close()
    return results


def serve_reply(reply: bytes, ports: multiprocessing.SimpleQueue[int]) -> None:
    """Entry point of a process: a bare grpc.aio server (as the engine's, without its interceptors)
    answering every GetIndicators with `reply` as it is; its port goes to `ports`."""

    async def answer(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return reply

    async def serve() -> None:
        server = grpc.aio.server(options=[*GRPC_OPTIONS, ("grpc.max_send_message_length", 256 * 1024 * 1024)])
        handler = grpc.unary_unary_rpc_method_handler(answer)
        service = ind_pb.DESCRIPTOR.services_by_name["IndicatorService"].full_name
        server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler(service, {"GetIndicators": handler})]
        )
        ports.put(server.add_insecure_port("127.0.0.1:0"))
        await server.start()
        await server.wait_for_termination()

    asyncio.run(serve())


@contextlib.contextmanager
def bare_server(reply: bytes) -> Iterator[int]:
    """A bare gRPC server answering every GetIndicators with `reply` (the transport floor); its port."""
    context = multiprocessing.get_context("spawn")
    ports: multiprocessing.SimpleQueue[int] = context.SimpleQueue()
    server = context.Process(target=serve_reply, args=(reply, ports), daemon=True)
    server.start()
    try:
        yield ports.get()
    finally:
        server.kill()
        server.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--import-bars", type=int, default=200_000)
    parser.add_argument("--indicator-bars", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args(argv)
    n = max(args.import_bars, args.indicator_bars, 5000)

    from service_runtime.signing_keys import SigningKeyStore
    from tools.supervisor import Stack

    host = os.environ.get("BENCH_MYSQL_HOST", "127.0.0.1")
    user = os.environ.get("BENCH_MYSQL_USER", "root")
    password = os.environ.get("BENCH_MYSQL_PASSWORD", "")
    database = f"bench_market_{os.getpid()}"
    admin = create_engine(f"mysql+pymysql://{user}:{password}@{host}:3306/", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sql(f"CREATE DATABASE {database} CHARACTER SET utf8mb4"))
    tmp = Path(tempfile.mkdtemp(prefix="bench-market-"))
    mysql_url = f"mysql+pymysql://{user}:{password}@{host}:3306/{database}?charset=utf8mb4"
    stack = None
    try:
        text, columns = random_walk_csv(n)
        print(f"generated {n} hourly bars; importing ...", flush=True)
        imports = bench_import(mysql_url, f"sqlite:///{tmp / 'import.db'}", text, n)

        env = dict(os.environ)
        env.update({k: str(v) for k, v in PORTS.items()})
        env.update(
            {
                "BUSINESS_METRICS_PORT": "0",
                "ML_METRICS_PORT": "0",
                "JWT_KEYS_DIR": str(tmp / "keys"),
                "RATE_LIMIT_SCALE": "1000",
                "DATABASE_URL": f"sqlite:///{tmp / 'business.db'}",
                "MYSQL_HOST": host,
                "MYSQL_USER": user,
                "MYSQL_PASSWORD": password,
                "MYSQL_DATABASE": database,
                "LOG_LEVEL": "WARNING",
            }
        )
        stack = Stack(env=env, log_dir=tmp / "logs")
        stack.start()
        keys = SigningKeyStore(tmp / "keys")
        now = int(time.time())
        token = keys.sign(
            {
                "iss": stack.edge.jwt_issuer,
                "aud": stack.edge.jwt_audience,
                "sub": "bench",
                "roles": ["user"],
                "plan": "free",
                "iat": now,
                "exp": now + 3600,
                "jti": "bench",
            }
        )
        history = bench_history(token, args.requests)
        indicators = bench_indicators(
            token,
            {k: v[-args.indicator_bars :] for k, v in columns.items()},
            args.indicator_bars,
            max(5, args.requests // 3),
            mysql_url,
        )
    finally:
        if stack is not None:
            stack.stop()
        with admin.connect() as conn:
            conn.execute(sql(f"DROP DATABASE IF EXISTS {database}"))
        admin.dispose()

    floor = next(rate for label, rate in imports if "floor" in label)
    print(f"\n### Import, {n} hourly bars ({os.cpu_count()} cores, MariaDB on the same machine)\n")
    print("| path | bars/s | vs plain INSERT |\n|---|---:|---:|")
    for label, rate in imports:
        print(f"| {label} | {rate:,.0f} | {rate / floor:.2f}x |")
    print(f"\n### GET /api/history, 5000 bars, median of {args.requests} sequential calls\n")
    print("| path | median ms | vs gRPC direct in the same form |\n|---|---:|---:|")
    for label, seconds in history.items():
        base = history["gRPC direct (packed)" if "packed" in label else "gRPC direct"]
        print(f"| {label} | {seconds * 1000:.1f} | {seconds / base:.2f}x |")
    talib_s = indicators["TA-Lib in-process"]
    print(f"\n### Indicators {INDICATORS} over {args.indicator_bars} bars\n")
    print("| path | median ms | vs TA-Lib |\n|---|---:|---:|")
    for label, seconds in indicators.items():
        print(f"| {label} | {seconds * 1000:.1f} | {seconds / talib_s:.1f}x |")
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(parents=True, exist_ok=True)
    report = {"cpu_cores": os.cpu_count(), "load_average": os.getloadavg(), "imports": dict(imports)}
    report |= {"history_s": history, "indicators_s": indicators, "indicator_bars": args.indicator_bars}
    (out / "market_data.json").write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
