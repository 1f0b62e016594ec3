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

It starts a private Stack on its own ports with temp keys and SQLite (or DATABASE_URL when given,
for PostgreSQL's full-text search; with --courses 0 it measures the catalogue already there), so it
does not touch a running system.
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

PORTS = {
    "ENVOY_PORT": 38180,
    "ENVOY_ADMIN_PORT": 39911,
    "BUSINESS_GRPC_PORT": 35151,
    "ML_GRPC_PORT": 35152,
    "GATEWAY_PORT": 38100,
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


def lesson_load(edge: str, requests: int) -> dict[str, float]:
    with httpx.Client(base_url=edge, timeout=30) as client:
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        password = "bench-correct-horse-battery-staple"
        client.post("/api/auth/register", json={"email": email, "password": password}).raise_for_status()
        token = client.post("/api/auth/login", json={"email": email, "password": password}).json()["tokens"][
            "accessToken"
        ]
        auth = {"authorization": f"Bearer {token}"}
        course = client.get("/api/courses/reading-candles-and-indicators").json()["course"]["card"][
            "courseId"
        ]
        client.post(f"/api/learning/courses/{course}/enrollment", json={}, headers=auth).raise_for_status()
        samples = []
        for i in range(requests):
            lesson = ("anatomy", "rsi", "macd-atr")[i % 3]
            started = time.perf_counter()
            reply = client.get(f"/api/learning/courses/{course}/lessons/{lesson}", headers=auth)
            samples.append((time.perf_counter() - started) * 1000)
            reply.raise_for_status()
    return figures(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--courses", type=int, default=10_000, help="synthetic courses to generate")
    parser.add_argument("--requests", type=int, default=300, help="requests per measured cell")
    args = parser.parse_args(argv)

    from business.education.wiring import load_starter_catalogue
    from business.shared.database import migrate
    from tools.supervisor import Stack

    tmp = Path(tempfile.mkdtemp(prefix="bench-education-"))
    url = os.environ.get("DATABASE_URL", f"sqlite:///{tmp / 'business.db'}")
    migrate(url)
    load_starter_catalogue(url)
    report: dict[str, Any] = {
        "cpu_cores": os.cpu_count(),
        "database": url.split(":", 1)[0],
        "generated_now": args.courses,
        "load_average_at_start": [round(x, 1) for x in os.getloadavg()],
    }
    report["build_s"] = round(build_catalogue(url, args.courses), 1)
    report["catalogue_size"] = catalogue_size(url)
    print(f"{args.courses} synthetic courses published in {report['build_s']} s", flush=True)
    report["in_process"] = in_process_search(url, args.requests)
    env = private_stack_env(tmp, PORTS, url)
    stack = Stack(env=env, log_dir=tmp / "logs")
    edge = f"http://127.0.0.1:{PORTS['ENVOY_PORT']}"
    print(f"starting stack (logs in {tmp / 'logs'}) ...", flush=True)
    try:
        stack.start()
        report["edge_search"] = edge_search(edge, args.requests)
        report["edge_search_concurrent"] = asyncio.run(concurrent_search(edge, args.requests * 2, 8))
        report["lesson_load"] = lesson_load(edge, args.requests)
    finally:
        stack.stop()
    write_report("education", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
