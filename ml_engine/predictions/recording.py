"""Record each distinct served prediction once, off the request path.

Predict hands the record over and returns: the write runs in one worker thread. A repeat of a
recently written prediction is dropped in memory; a store failure is logged and counted, never
failing the prediction it came from. A backlog beyond `max_pending` is dropped (and counted) rather
than growing without bound while the store is slow.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from ml_engine.predictions.data.prediction_repository import PredictionRecord, PredictionStore

log = logging.getLogger(__name__)


class PredictionRecorder:
    def __init__(self, store: PredictionStore, enabled: bool = True, max_pending: int = 1000) -> None:
        self.store = store
        self.enabled = enabled
        self.max_pending = max_pending
        self.written = 0
        self.failures = 0
        self.dropped = 0
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prediction-recorder")

    def record(self, record: PredictionRecord) -> None:
        if not self.enabled or self.store.seen(record.id):
            return
        with self._lock:
            if record.id in self._pending:
                return
            if len(self._pending) >= self.max_pending:
                self.dropped += 1
                return
            self._pending.add(record.id)
        self._executor.submit(self._write, record)

    def _write(self, record: PredictionRecord) -> None:
        try:
            if self.store.insert_once(record):
                with self._lock:
                    self.written += 1
        except Exception:
            with self._lock:
                self.failures += 1
            log.exception("could not record prediction %s (%s %s)", record.id, record.symbol, record.horizon)
        finally:
            with self._lock:
                self._pending.discard(record.id)

    def flush(self) -> None:
        """Waits for the writes handed over so far (tests, shutdown)."""
        self._executor.submit(lambda: None).result()

    def close(self) -> None:
        self._executor.shutdown(wait=True)
