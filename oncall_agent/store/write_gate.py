"""The in-process write gate for SQLite, where appends (acknowledgements a sender is waiting on) go first.

SQLite has one writer at a time. Queueing this process's writers here is far cheaper than letting them collide
inside SQLite, whose busy handler sleeps in steps of up to 100 ms. Background writers (grouping) step aside
while appends are waiting, but never longer than `max_background_wait` per turn, so grouping always advances
during a storm and catches up right after it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class WriteGate:
    def __init__(self, max_background_wait: float = 0.25) -> None:
        self._condition = threading.Condition()
        self._held = False
        self._urgent_waiting = 0
        self._max_background_wait = max_background_wait

    @contextmanager
    def urgent(self) -> Iterator[None]:
        """Hold the gate for a write someone is waiting on (an intake append)."""
        with self._condition:
            self._urgent_waiting += 1
            try:
                while self._held:
                    self._condition.wait()
            finally:
                self._urgent_waiting -= 1
            self._held = True
        try:
            yield
        finally:
            self._release()

    @contextmanager
    def background(self) -> Iterator[None]:
        """Hold the gate for background work: after urgent writers, or once it has waited long enough."""
        deadline = time.monotonic() + self._max_background_wait
        with self._condition:
            while self._held or (self._urgent_waiting and time.monotonic() < deadline):
                self._condition.wait(timeout=max(0.0, deadline - time.monotonic()) or None)
            self._held = True
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        with self._condition:
            self._held = False
            self._condition.notify_all()


class NoGate:
    """PostgreSQL takes concurrent writers itself: nothing to queue."""

    @contextmanager
    def urgent(self) -> Iterator[None]:
        yield

    @contextmanager
    def background(self) -> Iterator[None]:
        yield


_GATES: dict[int, WriteGate] = {}
_GATES_LOCK = threading.Lock()


def gate_for(engine: Any) -> WriteGate | NoGate:
    """The one gate of an engine: every store object over the same SQLite engine queues on it."""
    if engine.dialect.name != "sqlite":
        return NoGate()
    with _GATES_LOCK:
        return _GATES.setdefault(id(engine.pool), WriteGate())
