"""Per-source API-call budgets: a meter the investigation opens around one evidence source.

Adapters call `charge(api)` before every request they send (every HTTP attempt, retries included, since that is
what rate limits and bills count). Past the meter's limit `charge` raises CallBudgetExceeded and the request is
not sent. The meter is context-local (a ContextVar), so adapters need no reference to the investigation, and
sources running at the same time on other threads each charge their own meter. Outside a meter (the poller, the
outbox relay, action executors) `charge` counts nothing and never refuses.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from oncall_agent.domain.errors import SourceError


class CallBudgetExceeded(SourceError):
    """A source asked for one more API call than its budget allows; the call was not made."""

    def __init__(self, source: str, limit: int, api: str) -> None:
        super().__init__(f"{source}: API-call budget of {limit} used up; {api} not called")
        self.source = source
        self.limit = limit
        self.api = api


class ScanBudgetExceeded(SourceError):
    """A query was stopped because it scanned more bytes than its budget (Logs Insights bills by bytes)."""


@dataclass
class CallMeter:
    """Counts one source's API calls by API (`service.Operation`); refuses calls past `limit` (None: no limit)."""

    source: str
    limit: int | None = None
    calls: Counter[str] = field(default_factory=Counter)
    refused: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def charge(self, api: str) -> None:
        with self._lock:  # an adapter may fan a source's calls out over threads
            if self.limit is not None and self.total >= self.limit:
                self.refused += 1
                raise CallBudgetExceeded(self.source, self.limit, api)
            self.calls[api] += 1


_CURRENT: ContextVar[CallMeter | None] = ContextVar("oncall_agent_call_meter", default=None)


def charge(api: str) -> None:
    """Count one API call against the current source's meter, or raise CallBudgetExceeded if it is used up."""
    meter = _CURRENT.get()
    if meter is not None:
        meter.charge(api)


@contextmanager
def metered(meter: CallMeter) -> Iterator[CallMeter]:
    """Charge every API call made in this context (this thread, or a task started from it) to `meter`."""
    token = _CURRENT.set(meter)
    try:
        yield meter
    finally:
        _CURRENT.reset(token)
