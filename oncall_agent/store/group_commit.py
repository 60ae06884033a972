"""Group commit for SQLite: one writer thread appends every waiting event in a single transaction.

SQLite takes one writer at a time, so concurrent appends would queue anyway; taking them together turns N
transactions (each a lock round, a lookup, inserts and a commit) into one lookup for all their keys, the inserts
and one commit. A caller blocks until its batch is committed, so an acknowledgement still means "stored".
Events within a batch are deduplicated against each other too, in arrival order.
"""

from __future__ import annotations

import queue
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from oncall_agent.domain.alarm import AlarmEvent
from oncall_agent.domain.errors import TransientStoreError
from oncall_agent.ports import AppendResult
from oncall_agent.store.errors import translate_errors
from oncall_agent.store.events import insert_event
from oncall_agent.store.tables import alarm_events, event_keys
from oncall_agent.store.write_gate import WriteGate

Pending = tuple[AlarmEvent, "Future[AppendResult]"]


def append_batch(connection: Connection, batch: list[AlarmEvent], received_at: datetime) -> list[AppendResult]:
    """Append `batch` in the caller's transaction: one key lookup, one insert per new event."""
    keys_of = [sorted(set(event.dedup_keys())) for event in batch]
    wanted = sorted({key for keys in keys_of for key in keys})
    lookup = sa.select(event_keys.c.key, event_keys.c.event_id).where(event_keys.c.key.in_(wanted))
    known: dict[str, int] = {key: int(event_id) for key, event_id in connection.execute(lookup)}
    results: list[AppendResult] = []
    redeliveries: Counter[int] = Counter()
    for event, keys in zip(batch, keys_of, strict=True):
        seen = [known[key] for key in keys if key in known]
        if seen:
            original = min(seen)  # the oldest stored event sharing a key is the original
            redeliveries[original] += 1
            results.append(AppendResult(original, duplicate=True))
            continue
        event_id = insert_event(connection, event, keys, received_at)
        known.update(dict.fromkeys(keys, event_id))
        results.append(AppendResult(event_id, duplicate=False))
    for event_id, count in redeliveries.items():
        connection.execute(
            sa.update(alarm_events)
            .where(alarm_events.c.id == event_id)
            .values(deliveries=alarm_events.c.deliveries + count)
        )
    return results


class GroupCommitAppender:
    def __init__(self, writer: Engine, gate: WriteGate, now: Callable[[], datetime], max_batch: int = 128) -> None:
        self._writer = writer
        self._gate = gate
        self._now = now
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def append(self, event: AlarmEvent, timeout: float = 10.0) -> AppendResult:
        self._ensure_started()
        future: Future[AppendResult] = Future()
        self._queue.put((event, future))
        try:
            return future.result(timeout=timeout)
        except TimeoutError as exc:
            raise TransientStoreError(f"append of {event.alarm_name} not committed within {timeout} s") from exc

    def close(self) -> None:
        """Commit what is queued, then stop the writer thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None

    def _ensure_started(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="store-group-commit", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # finish this batch, then stop
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[Pending]) -> None:
        try:
            with translate_errors(f"append {len(batch)} event(s)"), self._gate.urgent(), self._writer.begin() as c:
                results = append_batch(c, [event for event, _ in batch], self._now())
        except Exception as exc:  # noqa: BLE001 - every waiting caller must learn that its batch failed
            for _, future in batch:
                future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            future.set_result(result)
