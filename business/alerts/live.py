"""Live delivery: each user's open alert streams, in this process.

Rules are evaluated once per bar whoever watches; a firing is then offered to every open stream
of its user (a web tab each). A slow stream loses its oldest alerts, never holds up the others;
the history (ListAlerts) has them all.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

from business.alerts.domain.entities import Alert

QUEUE_SIZE = 100


class LiveAlertHub:
    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        self.queue_size = queue_size
        self._streams: dict[str, set[asyncio.Queue[Alert]]] = {}

    def publish(self, alert: Alert) -> None:
        for queue in self._streams.get(alert.user_id, ()):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(alert)

    def streams(self, user_id: str) -> int:
        return len(self._streams.get(user_id, ()))

    @contextmanager
    def subscription(self, user_id: str) -> Iterator[asyncio.Queue[Alert]]:
        queue: asyncio.Queue[Alert] = asyncio.Queue(self.queue_size)
        self._streams.setdefault(user_id, set()).add(queue)
        try:
            yield queue
        finally:
            mine = self._streams.get(user_id)
            if mine is not None:
                mine.discard(queue)
                if not mine:
                    del self._streams[user_id]

    async def alerts(self, user_id: str) -> AsyncIterator[Alert]:
        """The user's alerts as they fire, until the caller stops reading."""
        with self.subscription(user_id) as queue:
            while True:
                yield await queue.get()
