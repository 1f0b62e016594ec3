"""The platform's health as the business service sees it: every dependency probed at once, the
ML engine's own dependencies nested under it.

Generic over the report type (the handlers' `DependencyHealth` message fits): anything with a
settable `name`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Protocol, TypeVar


class Named(Protocol):
    name: str


D = TypeVar("D", bound=Named)


def nested_under(owner: str, own: D, nested: Sequence[D]) -> list[D]:
    """The owner's own report, then its dependencies' renamed `owner.name`. The caller passes
    dependencies only when the owner answered."""
    for dependency in nested:
        dependency.name = f"{owner}.{dependency.name}"
    return [own, *nested]


async def gather_health(*probes: Awaitable[D | list[D]]) -> list[D]:
    """Runs every probe at once; one list of reports, in the order of the probes."""
    results = await asyncio.gather(*probes)
    flat: list[D] = []
    for result in results:
        flat.extend(result if isinstance(result, list) else [result])
    return flat
