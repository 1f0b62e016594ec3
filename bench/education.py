"""Education benchmark, every figure from one run on one machine:

    python -m bench.education [--courses 10000] [--requests 300]   (make bench-education)

1. A catalogue of N generated courses, labelled synthetic (tag `synthetic`, "(synthetic)" in each
   title): random titles, summaries and three lessons of text drawn from a trading vocabulary
   (seeded, so every run builds the same catalogue), published through the real repositories
   beside the starter catalogue.
2. Catalogue search in process (the repository's query, no network): p50/p99 per query shape.
3. Catalogue search through Envoy (GET /api/courses, REST, no token): p50/p99 per query shape,
   one client, then 8 concurrent clients for the common-word query.
4. Lesson load through Envoy (GET /api/learning/courses/{id}/lessons/{id}, signed in, enrolled):
   p50/p99.
5. Lesson load with its live blocks: the lesson, then (concurrently, as the browser's reader does)
   every call its blocks make with the learner's token: history and indicators for a chart, the
   signal and the model's scores for a signal block, the window's history for a forecast: p50/p99
   of the whole, on the starter lessons that carry blocks (the EURUSD and GOOG samples imported).

It starts a private Stack on its own ports with temp keys and SQLite (or DATABASE_URL when given;
with --courses 0 it measures the catalogue already there), so it does not touch a running system.
With --postgres URL (a server database, emptied of education rows first... it must be a throwaway
one) the same catalogue is built and searched on PostgreSQL too, in the same run, and the report
gives PostgreSQL/SQLite ratios per query shape.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.private_stack import private_stack_env, write_report

# Below the kernel's ephemeral ports: bench/private_stack.py says why.
PORTS = {
    "ENVOY_PORT": 28380,
    "ENVOY_ADMIN_PORT": 29931,
    "BUSINESS_GRPC_PORT": 25351,
    "ML_GRPC_PORT": 25352,
    "GATEWAY_PORT": 28300,
}
# One string reads better than 65 quoted words.
WORDS = (  # noqa: SIM905 - a vocabulary, not a list anyone edits word by word
    "candle wick body close open high low trend momentum volatility range breakout pullback support "
    "resistance moving average crossover rsi macd atr bollinger band volume liquidity spread slippage "
    "commission backtest walk forward lookahead overfitting sample drawdown sharpe ratio position size "
    "stop loss take profit risk reward entry exit signal forecast horizon scalping intraday swing "
    "portfolio diversification correlation hedge leverage margin order fill market limit session gap"
).split()
QUERIES = {
    "common word": {"query": "risk"},
    "two words": {"query": "stop loss"},
    "rare prefix": {"query": "bolling"},
    "word + filters": {"query": "momentum", "level": "COURSE_LEVEL_ADVANCED", "tier": "COURSE_TIER_PRO"},
    "filters only": {"tag": "synthetic", "level": "COURSE_LEVEL_BEGINNER"},
    "no match": {"query": "zzzzqx"},
}


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def figures(samples: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(samples, 0.5), 2), "p99_ms": round(percentile(samples, 0.99), 2)}


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def synthetic_courses(count: int, seed: int = 7) -> list[Any]:
    from business.education.domain import entities as e

    rng = random.Random(seed)
    out = []
    for i in range(count):
        lessons = tuple(
            e.Lesson(
                f"l{j}",
                _text(rng, 4).capitalize(),
                f"# {_text(rng, 3)}\n\n{_text(rng, 150)}",
                estimated_minutes=5,
            )
            for j in range(3)
        )
        out.append(
            e.CourseContent(
                title=f"{_text(rng, 4).capitalize()} (synthetic {i})",
                slug=f"synthetic-{i}",
                summary=_text(rng, 30),
                level=rng.choice(e.LEVELS),
                tags=("synthetic", rng.choice(WORDS)),
                tier=rng.choice(e.TIERS),
                modules=(e.Module("m1", _text(rng, 3), lessons),),
            )
        )
    return out


def build_catalogue(url: str, count: int) -> float:
    """Publishes `count` synthetic courses; returns the seconds it took."""
    from business.education.data.repositories import SqlEducationUnitOfWork
    from business.education.domain.entities import PUBLISHED, Course
    from business.shared.database import BusinessStore

    store = BusinessStore(url)
    units = store.units_of_work(SqlEducationUnitOfWork)
    started = time.perf_counter()
    courses = synthetic_courses(count)
    base = datetime.now(UTC)
    for batch in range(0, count, 500):

        def work(uow: Any, chunk: list[Any] = courses[batch : batch + 500], offset: int = batch) -> None:
            for n, content in enumerate(chunk):
                at = base - timedelta(minutes=offset + n)
                course = Course(
                    id=str(uuid.uuid4()), status=PUBLISHED, revision=1, published_revision=1, draft=content,
                    published=content, instructors=(), created_at=at, updated_at=at, published_at=at,
                )  # fmt: skip
                uow.courses.add(course)
                uow.catalogue.index(course)

        units.run_sync(work)
    store.close()
    return time.perf_counter() - started


def catalogue_size(url: str) -> int:
    """Published courses in the catalogue (a reused DATABASE_URL may hold an earlier run's)."""
    from sqlalchemy import func, select

    from business.education.data.tables import CatalogueRow
    from business.shared.database import BusinessStore

    store = BusinessStore(url)
    with store.transaction() as session:
        count = session.scalar(select(func.count()).select_from(CatalogueRow)) or 0
    store.close()
    return int(count)


def in_process_search(url: str, rounds: int) -> dict[str, dict[str, float]]:
    from business.education.data.repositories import SqlEducationUnitOfWork
    from business.education.domain.entities import CourseSearch
    from business.shared.database import BusinessStore

    levels = {"COURSE_LEVEL_ADVANCED": "advanced", "COURSE_LEVEL_BEGINNER": "beginner"}
    tiers = {"COURSE_TIER_PRO": "pro"}
    store = BusinessStore(url)
    units = store.units_of_work(SqlEducationUnitOfWork)
    out = {}
    for name, q in QUERIES.items():
        search = CourseSearch(
            q.get("query", ""),
            levels.get(q.get("level", ""), ""),
            q.get("tag", ""),
            tiers.get(q.get("tier", ""), ""),
        )
        samples = []
        for i in range(rounds + 5):  # the first 5 warm the page cache and are not counted
            started = time.perf_counter()
            units.run_sync(lambda uow: uow.catalogue.search(search, limit=21, offset=0))  # noqa: B023 - run at once
            if i >= 5:
                samples.append((time.perf_counter() - started) * 1000)
        out[name] = figures(samples)
    store.close()
    return out


def edge_search(edge: str, requests: int) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    with httpx.Client(base_url=edge, timeout=30) as client:
        for name, params in QUERIES.items():
            samples, found = [], 0
            for _ in range(requests):
                started = time.perf_counter()
                reply = client.get("/api/courses", params=params)
                samples.append((time.perf_counter() - started) * 1000)
                reply.raise_for_status()
                found = len(reply.json().get("courses", []))
            out[name] = {**figures(samples), "results_on_first_page": found}
    return out


async def concurrent_search(edge: str, requests: int, concurrency: int) -> dict[str, Any]:
    samples: list[float] = []
    errors: dict[int, int] = {}
    remaining = requests

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            reply = await client.get("/api/courses", params=QUERIES["common word"])
            samples.append((time.perf_counter() - started) * 1000)
            if reply.status_code != 200:
                errors[reply.status_code] = errors.get(reply.status_code, 0) + 1

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=edge, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "concurrency": concurrency,
        **figures(samples),
        "per_s": round(len(samples) / elapsed, 1),
        "errors_by_http_status": errors,
    }


def lesson_load(edge: str, token: str, course: str, requests: int) -> dict[str, float]:
    auth = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=edge, timeout=30) as client:
        samples = []
        for i in range(requests):
            lesson = ("anatomy", "rsi", "macd-atr")[i % 3]
            started = time.perf_counter()
            reply = client.get(f"/api/learning/courses/{course}/lessons/{lesson}", headers=auth)
            samples.append((time.perf_counter() - started) * 1000)
            reply.raise_for_status()
    return figures(samples)


BLOCK_LESSONS = ("rsi", "macd-atr")


def _block_calls(block: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The REST calls the lesson reader makes for one block (LessonBlocks.tsx)."""
    if "chart" in block:
        c = block["chart"]
        params = {
            "timeframe": c["timeframe"],
            "start": c.get("start", ""),
            "end": c.get("end", ""),
            "limit": 500,
        }
        calls = [(f"/api/history/{c['symbol']}", params)]
        if c.get("indicators"):
            indicators = {"timeframe": c["timeframe"], "indicators": ",".join(c["indicators"])}
            calls.append((f"/api/indicators/{c['symbol']}", indicators))
        return calls
    if "signal" in block:
        s = block["signal"]
        return [(f"/api/signals/{s['symbol']}", {"timeframe": s["timeframe"]}),
                ("/api/predictions/scores", {"symbol": s["symbol"]})]  # fmt: skip
    if "forecast" in block:
        f = block["forecast"]
        return [(f"/api/history/{f['symbol']}", {"timeframe": f["timeframe"], "end": f["windowEnd"],
                                                 "limit": f.get("windowBars", 60)})]  # fmt: skip
    return []


async def lesson_with_blocks(edge: str, token: str, course: str, requests: int) -> dict[str, Any]:
    auth = {"authorization": f"Bearer {token}"}
    samples: list[float] = []
    statuses: dict[int, int] = {}
    async with httpx.AsyncClient(base_url=edge, timeout=60, headers=auth) as client:
        for i in range(requests):
            lesson = BLOCK_LESSONS[i % len(BLOCK_LESSONS)]
            started = time.perf_counter()
            reply = await client.get(f"/api/learning/courses/{course}/lessons/{lesson}")
            reply.raise_for_status()
            calls = [c for b in reply.json()["lesson"].get("blocks", []) for c in _block_calls(b)]
            replies = await asyncio.gather(*(client.get(path, params=params) for path, params in calls))
            samples.append((time.perf_counter() - started) * 1000)
            for r in replies:
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
    # A signal without a trained model is a 412 the reader shows as such; it is still a round trip.
    return {**figures(samples), "block_calls_by_http_status": statuses}


def _learner(edge: str) -> tuple[str, str]:
    """A new learner's token, enrolled in the candles course; returns (token, course id)."""
    with httpx.Client(base_url=edge, timeout=30) as client:
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        password = "bench-correct-horse-battery-staple"
        client.post("/api/auth/register", json={"email": email, "password": password}).raise_for_status()
        token: str = client.post("/api/auth/login", json={"email": email, "password": password}).json()[
            "tokens"
        ]["accessToken"]
        course: str = client.get("/api/courses/reading-candles-and-indicators").json()["course"]["card"][
            "courseId"
        ]
        auth = {"authorization": f"Bearer {token}"}
        client.post(f"/api/learning/courses/{course}/enrollment", json={}, headers=auth).raise_for_status()
    return token, course


def _through_the_edge(tmp: Path, url: str, requests: int, *, lessons: bool) -> dict[str, Any]:
    """Search (and, for the first database, lesson load) through Envoy on a private stack."""
    from tools.supervisor import Stack

    env = private_stack_env(tmp, PORTS, url)
    # The live blocks read the EURUSD and GOOG samples.
    env["LOAD_SAMPLE_DATA"] = "true" if lessons else "false"
    stack = Stack(env=env, log_dir=tmp / "logs")
    edge = f"http://127.0.0.1:{PORTS['ENVOY_PORT']}"
    print(f"starting stack (logs in {tmp / 'logs'}) ...", flush=True)
    out: dict[str, Any] = {}
    try:
        stack.start()
        out["edge_search"] = edge_search(edge, requests)
        out["edge_search_concurrent"] = asyncio.run(concurrent_search(edge, requests * 2, 8))
        if lessons:
            token, course = _learner(edge)
            out["lesson_load"] = lesson_load(edge, token, course, requests)
            out["lesson_load_with_live_blocks"] = asyncio.run(
                lesson_with_blocks(edge, token, course, max(requests // 3, 20))
            )
    finally:
        stack.stop()
    return out


def _dialect(url: str) -> str:
    return "postgresql" if url.startswith("postgres") else url.split(":", 1)[0].split("+", 1)[0]


def _ratios(pg: dict[str, dict[str, float]], lite: dict[str, dict[str, float]]) -> dict[str, float]:
    return {name: round(pg[name]["p50_ms"] / max(lite[name]["p50_ms"], 1e-6), 2) for name in pg}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--courses", type=int, default=10_000, help="synthetic courses to generate")
    parser.add_argument("--requests", type=int, default=300, help="requests per measured cell")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL", ""),
        help="a throwaway PostgreSQL database too",
    )
    args = parser.parse_args(argv)

    from business.education.wiring import load_starter_catalogue
    from business.shared.database import migrate

    tmp = Path(tempfile.mkdtemp(prefix="bench-education-"))
    url = os.environ.get("DATABASE_URL", f"sqlite:///{tmp / 'business.db'}")
    report: dict[str, Any] = {
        "cpu_cores": os.cpu_count(),
        "generated_now": args.courses,
        "load_average_at_start": [round(x, 1) for x in os.getloadavg()],
        "catalogue": "synthetic courses (tag `synthetic`, '(synthetic N)' in titles) + the starter catalogue",
    }
    databases = [url] + ([args.postgres] if args.postgres else [])
    for n, db in enumerate(databases):
        name = _dialect(db)
        (tmp / name).mkdir(parents=True, exist_ok=True)
        migrate(db)
        load_starter_catalogue(db)
        part: dict[str, Any] = {"build_s": round(build_catalogue(db, args.courses), 1)}
        part["catalogue_size"] = catalogue_size(db)
        print(f"{name}: {args.courses} synthetic courses published in {part['build_s']} s", flush=True)
        part["in_process"] = in_process_search(db, args.requests)
        part.update(_through_the_edge(tmp / name, db, args.requests, lessons=n == 0))
        report[name] = part
    if args.postgres:
        lite, pg = report[_dialect(url)], report["postgresql"]
        report["postgresql_over_sqlite_p50"] = {
            "in_process": _ratios(pg["in_process"], lite["in_process"]),
            "edge": _ratios(pg["edge_search"], lite["edge_search"]),
        }
    write_report("education", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
