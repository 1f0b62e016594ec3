"""Alert evaluation benchmark, every figure from one run on one machine:

    python -m bench.alerts [--rules 10000] [--bars 200] [--store-bars 40]   (make bench-alerts)

1. In process, pure: `rules.evaluate` of N rules (a third each: signal, price cross, range exit;
   seeded random parameters around the price) on each bar of a seeded random walk; p50/p99 per
   bar, rules per second, alerts fired per bar.
2. Per bar through the store: `evaluation.on_bar` as business runs it (lock the feed's state, read
   the feed's N rules, evaluate, store the alerts and the state in one transaction, deliver), on a
   migrated SQLite file, or DATABASE_URL (PostgreSQL) when given; p50/p99 per bar.
The ratio store / pure says where a bar's time goes. Rules are evaluated once per bar whoever
watches: a per-viewer design would multiply the pure figure by the number of open pages.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from business.alerts.data.repositories import SqlAlertsUnitOfWork
from business.alerts.domain import evaluation, rules
from business.alerts.domain.entities import (
    AlertKind,
    AlertRule,
    CrossDirection,
    FeedBar,
    FeedState,
    SignalSide,
)
from business.alerts.wiring import assemble
from business.shared.database import BusinessStore, migrate
from business.shared.mail import ConsoleMailer

SYMBOL, TIMEFRAME, HOUR = "BENCH", "1h", 3600


class Catalogue:
    async def symbols(self) -> frozenset[str]:
        return frozenset({SYMBOL})


class NoFeed:
    async def bars(self, symbol: str, timeframe: str, after: int | None = None):  # type: ignore[no-untyped-def]
        return
        yield


def synthetic_rules(count: int, price: float, seed: int = 11) -> list[AlertRule]:
    rng = random.Random(seed)
    made = []
    now = datetime.now(UTC)
    for i in range(count):
        user = f"bench-user-{i % 1000}"
        kind = (AlertKind.SIGNAL, AlertKind.PRICE_CROSS, AlertKind.RANGE_EXIT)[i % 3]
        rule = AlertRule(str(uuid.uuid4()), user, SYMBOL, TIMEFRAME, kind, created_at=now)
        if kind is AlertKind.SIGNAL:
            side, confidence = rng.choice(list(SignalSide)), round(rng.uniform(0.5, 0.9), 2)
            rule = replace(rule, side=side, min_confidence=confidence)
        elif kind is AlertKind.PRICE_CROSS:
            level, direction = round(price * rng.uniform(0.97, 1.03), 5), rng.choice(list(CrossDirection))
            rule = replace(rule, level=level, direction=direction)
        made.append(rule)
    return made


def random_walk(count: int, price: float, seed: int = 5) -> list[FeedBar]:
    rng = random.Random(seed)
    bars = []
    for i in range(count):
        close = price * (1 + rng.gauss(0, 0.003))
        high, low = (
            max(price, close) * (1 + abs(rng.gauss(0, 0.001))),
            min(price, close) * (1 - abs(rng.gauss(0, 0.001))),
        )
        action = rng.choice(("buy", "sell", "hold", "hold"))
        bars.append(
            FeedBar(
                SYMBOL,
                TIMEFRAME,
                1_700_000_000 + i * HOUR,
                price,
                high,
                low,
                close,
                action,
                round(rng.uniform(0.4, 0.95), 3),
                close * 1.004,
                close * 0.996,
            )
        )
        price = close
    return bars


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def figures(samples: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(samples, 0.5), 3), "p99_ms": round(percentile(samples, 0.99), 3)}


def pure(all_rules: list[AlertRule], bars: list[FeedBar]) -> dict[str, object]:
    state: FeedState | None = None
    samples, fired = [], []
    now = datetime.now(UTC)
    for bar in bars:
        started = time.perf_counter()
        state, alerts = rules.evaluate(all_rules, state, bar, now)
        samples.append((time.perf_counter() - started) * 1000)
        fired.append(len(alerts))
    p50 = percentile(samples, 0.5)
    return {
        **figures(samples),
        "rules_per_s_at_p50": round(len(all_rules) / (p50 / 1000)),
        "alerts_per_bar_mean": round(sum(fired) / len(fired), 1),
    }


async def through_store(url: str, all_rules: list[AlertRule], bars: list[FeedBar]) -> dict[str, object]:
    store = BusinessStore(url)
    try:
        units = store.units_of_work(SqlAlertsUnitOfWork)

        def add(uow: SqlAlertsUnitOfWork) -> None:
            for rule in all_rules:
                uow.rules.add(rule)

        units.run_sync(add)
        feature = assemble(store, Catalogue(), NoFeed(), ConsoleMailer())
        samples, fired = [], 0
        for bar in bars:
            started = time.perf_counter()
            fired += len(await evaluation.on_bar(feature.ctx, bar))
            samples.append((time.perf_counter() - started) * 1000)
        return {**figures(samples), "alerts_stored": fired, "bars": len(bars)}
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--bars", type=int, default=200)
    parser.add_argument("--store-bars", type=int, default=40)
    args = parser.parse_args()
    price = 1.1
    all_rules = synthetic_rules(args.rules, price)
    bars = random_walk(args.bars, price)
    report: dict[str, object] = {"rules": args.rules, "pure": pure(all_rules, bars)}
    url = os.environ.get("DATABASE_URL", "")
    with tempfile.TemporaryDirectory() as tmp:
        if not url:
            url = f"sqlite:///{Path(tmp) / 'alerts-bench.db'}"
        migrate(url)
        stored = asyncio.run(through_store(url, all_rules, bars[: args.store_bars]))
    report["store"] = {"database": url.split(":", 1)[0], **stored}
    pure_p50 = float(report["pure"]["p50_ms"])  # type: ignore[index]
    report["store_over_pure_p50"] = round(float(stored["p50_ms"]) / pure_p50, 1)  # type: ignore[arg-type]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
