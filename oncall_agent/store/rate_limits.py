"""Shared rate limits in the store: every replica's AWS reads draw on one bucket per (region, API).

GCRA with reservations: a bucket is one number, its theoretical arrival time (`tat`, epoch seconds). A call
reserves the next slot with one atomic statement, `tat = max(tat, now) + interval`, and waits until
`tat - burst * interval` (zero while the bucket has room). One UPDATE ... RETURNING, so replicas racing for the
same bucket each get their own slot (PostgreSQL row lock; SQLite has one writer). Clocks are each replica's own
(NTP keeps them within the margin a rate in calls per second cares about).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from oncall_agent.store.engine import writer
from oncall_agent.store.errors import translate_errors
from oncall_agent.store.tables import rate_limits
from oncall_agent.store.write_gate import gate_for


class SqlRateLimiter:
    def __init__(self, engine: Engine, now: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._writer = writer(engine)
        self._gate = gate_for(engine)
        self._now = now
        self._known: set[str] = set()
        greatest = sa.func.greatest if engine.dialect.name == "postgresql" else sa.func.max
        self._greatest = greatest

    def reserve(self, name: str, per_second: float, burst: float = 1.0) -> float:
        """Reserve one call on bucket `name` (`per_second` calls, `burst` at once); the seconds to wait first."""
        if per_second <= 0 or burst < 1:
            raise ValueError(f"rate {per_second}/s with burst {burst}: want a positive rate and a burst of at least 1")
        interval = 1.0 / per_second
        now = self._now()
        with translate_errors(f"reserve a call on {name}"), self._gate.background(), self._writer.begin() as c:
            if name not in self._known:
                c.execute(self._insert_if_absent(c.dialect.name).values(name=name, tat=now))
            tat = c.execute(
                sa.update(rate_limits)
                .where(rate_limits.c.name == name)
                .values(tat=self._greatest(rate_limits.c.tat, now) + interval)
                .returning(rate_limits.c.tat)
            ).scalar_one()
        self._known.add(name)
        return max(0.0, float(tat) - burst * interval - now)

    @staticmethod
    def _insert_if_absent(dialect: str) -> sa.Insert:
        if dialect == "postgresql":
            return postgresql.insert(rate_limits).on_conflict_do_nothing(index_elements=["name"])
        return sqlite.insert(rate_limits).on_conflict_do_nothing(index_elements=["name"])
