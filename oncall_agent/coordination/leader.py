"""Leader election for jobs that must run on one replica at a time (poller, expiry reaper, ...).

A background thread acquires or renews every wanted lease in the store each `renew_every` seconds. This
process counts itself the leader of a lease only until `renew_every` seconds before the expiry it wrote,
measured on its own monotonic clock from the moment it asked: if renewals fail (database down, process stalled)
it stops acting a few seconds before another replica can take the lease over, which also absorbs small clock
differences between replicas. Takeover after a holder dies: at most ttl + renew_every (15 + 5 s by default).
A clean stop releases the leases, so the next holder takes over at its next attempt (within renew_every).
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from oncall_agent.observability import get_logger
from oncall_agent.ports import LeaseStore

log = get_logger(__name__)


def holder_id() -> str:
    """Unique per process, readable by a person: host, pid and a random suffix (pids repeat across tasks)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class LeaderElector:
    def __init__(
        self,
        store: LeaseStore,
        holder: str,
        ttl: timedelta,
        renew_every: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if renew_every * 2 > ttl.total_seconds():
            raise ValueError(f"lease renewal every {renew_every} s needs a ttl of at least twice that, not {ttl}")
        self.holder = holder
        self._store = store
        self._ttl = ttl
        self._renew_every = renew_every
        self._monotonic = monotonic
        self._wanted: dict[str, Callable[[], None] | None] = {}
        self._valid_until: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def want(self, name: str, on_acquired: Callable[[], None] | None = None) -> None:
        """Compete for lease `name`; `on_acquired` is called each time this process becomes its holder."""
        with self._lock:
            self._wanted[name] = on_acquired

    def is_leader(self, name: str) -> bool:
        with self._lock:
            return self._monotonic() < self._valid_until.get(name, float("-inf"))

    def run_if_leader(self, name: str, fn: Callable[[], None]) -> Callable[[], None]:
        """`fn` wrapped to run only while this process holds lease `name` (and the lease is wanted from now)."""
        if name not in self._wanted:
            self.want(name)

        def job() -> None:
            if self.is_leader(name):
                fn()

        job.__name__ = f"{getattr(fn, '__name__', 'job')}_if_leader_{name}"
        return job

    def tick(self) -> None:
        """One acquire-or-renew round over every wanted lease; a failing store loses nothing but this round."""
        with self._lock:
            wanted = dict(self._wanted)
        for name, on_acquired in wanted.items():
            asked_at = self._monotonic()
            was_leader = self.is_leader(name)
            try:
                held = self._store.acquire(name, self.holder, self._ttl) is not None
            except Exception as exc:  # noqa: BLE001 - keep competing; the local validity runs out on its own
                log.warning("lease_renew_failed", lease=name, holder=self.holder, error=f"{type(exc).__name__}: {exc}")
                continue
            with self._lock:
                if held:
                    self._valid_until[name] = asked_at + self._ttl.total_seconds() - self._renew_every
                else:
                    self._valid_until.pop(name, None)
            if held and not was_leader:
                log.info("lease_acquired", lease=name, holder=self.holder)
                if on_acquired is not None:
                    _call(on_acquired, name)
            elif was_leader and not held:
                log.warning("lease_lost", lease=name, holder=self.holder)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="leader-elector", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self.tick()
            if self._stopping.wait(self._renew_every):
                return

    def stop(self) -> None:
        """Stop renewing and release what this process holds (clean shutdown)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            wanted = list(self._wanted)
            self._valid_until.clear()
        for name in wanted:  # release is conditional on the holder: a lease held by another is left alone
            try:
                if self._store.release(name, self.holder):
                    log.info("lease_released", lease=name, holder=self.holder)
            except Exception as exc:  # noqa: BLE001 - the lease then simply expires after its ttl
                log.warning("lease_release_failed", lease=name, error=f"{type(exc).__name__}: {exc}")


def _call(hook: Callable[[], None], name: str) -> None:
    try:
        hook()
    except Exception as exc:  # noqa: BLE001 - a failing hook must not stop the renewals
        log.error("lease_hook_failed", lease=name, error=f"{type(exc).__name__}: {exc}")
