"""Named leader leases in the store: acquire-or-renew, release, and who holds what.

One row per lease name. Acquiring is one conditional UPDATE (the row is expired, or already ours) and, when no
row exists yet, an INSERT that does nothing on conflict. Both are single statements, so on PostgreSQL two
replicas racing for the same lease cannot both win: the second UPDATE waits for the first one's row lock and
then re-checks its WHERE against the row the first one wrote; the second INSERT hits the primary key. SQLite
takes one writer at a time anyway.

Times come from the injected clock (each replica's own): replicas are assumed to agree on the time within a
few seconds (NTP), which the caller's safety margin (see `coordination.leader`) absorbs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from oncall_agent.domain.errors import StoreError
from oncall_agent.ports import Clock
from oncall_agent.store.engine import writer
from oncall_agent.store.errors import translate_errors
from oncall_agent.store.tables import leases
from oncall_agent.store.write_gate import gate_for


@dataclass(frozen=True)
class LeaseRow:
    name: str
    holder: str
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime


class SqlLeaseStore:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._writer = writer(engine)
        self._gate = gate_for(engine)
        self._clock = clock

    @contextmanager
    def _write(self, what: str) -> Iterator[Connection]:
        with translate_errors(what), self._gate.background(), self._writer.begin() as connection:
            yield connection

    def acquire(self, name: str, holder: str, ttl: timedelta) -> datetime | None:
        """Take or renew lease `name` for `holder` until now + ttl; returns that expiry, or None when another
        holder's lease is still running."""
        now = self._clock.now()
        expires = now + ttl
        with self._write(f"acquire lease {name}") as connection:
            renewed = connection.execute(
                sa.update(leases)
                .where(leases.c.name == name, sa.or_(leases.c.expires_at <= now, leases.c.holder == holder))
                .values(
                    holder=holder,
                    # A takeover starts a new tenure; a renewal keeps the tenure's start.
                    acquired_at=sa.case((leases.c.holder == holder, leases.c.acquired_at), else_=now),
                    renewed_at=now,
                    expires_at=expires,
                )
            ).rowcount
            if renewed:
                return expires
            row = {"name": name, "holder": holder, "acquired_at": now, "renewed_at": now, "expires_at": expires}
            # RETURNING, not rowcount: through SQLAlchemy on psycopg a skipped ON CONFLICT insert still counts one row.
            inserted = connection.execute(_insert_if_absent(connection).values(row).returning(leases.c.name)).first()
            return expires if inserted is not None else None

    def release(self, name: str, holder: str) -> bool:
        """End `holder`'s lease now (clean shutdown) so another replica takes over at its next attempt."""
        with self._write(f"release lease {name}") as connection:
            released = connection.execute(
                sa.update(leases)
                .where(leases.c.name == name, leases.c.holder == holder)
                .values(expires_at=self._clock.now())
            ).rowcount
            return bool(released)

    def current(self) -> list[LeaseRow]:
        """Every lease row (expired ones included), by name."""
        with translate_errors("read leases"), self._engine.connect() as connection:
            rows = connection.execute(sa.select(leases).order_by(leases.c.name))
            return [LeaseRow(r.name, r.holder, r.acquired_at, r.renewed_at, r.expires_at) for r in rows]


def _insert_if_absent(connection: Connection) -> Any:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(leases).on_conflict_do_nothing(index_elements=["name"])
    if dialect == "sqlite":
        return sqlite.insert(leases).on_conflict_do_nothing(index_elements=["name"])
    raise StoreError(f"leases: unsupported database {dialect}")
