"""Claiming outbox rows, so replicas sharing one database never deliver the same row at the same time.

- `due_condition` is the "ready to deliver" test shared by `SqlOutbox.due` (a read) and `claim_rows`: pending,
  its time has come, and no earlier pending row of the same incident and target (find-or-create rows excepted),
  so "ensure the ticket" precedes "add a work note" and notes arrive in the order they were written.
- `claim_rows` selects ready, unclaimed (or expired-claim) rows and stamps `claimed_by`/`claim_expires_at` in the
  same transaction. On PostgreSQL the select is `FOR UPDATE SKIP LOCKED`: two relays claiming at once get
  disjoint rows, without waiting on each other. SQLite has one writer at a time (`BEGIN IMMEDIATE`), which gives
  the same guarantee for the single process it serves.
- `exclusive` serialises delivery per (incident, target) across replicas with a PostgreSQL session advisory
  lock, held around the remote call: two different `ensure_*` rows of one incident (or a row whose claim
  expired while its first relay was still calling) can never run find-then-create side by side. The lock dies
  with the connection, so a killed replica never leaves it held. SQLite needs none (one process, one relay
  per target).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from oncall_agent.store.tables import outbox

PENDING = "pending"
# Find-or-create operations: order-independent, never held back by earlier rows (the rows that need what they
# create are: a work note queued before its ticket waits for the ticket, instead of blocking it).
ENSURE_OPERATIONS = ("servicenow.ensure_incident", "github.ensure_issue")


def due_condition(now: datetime) -> sa.ColumnElement[bool]:
    earlier = outbox.alias("earlier")
    blocked = (
        sa.exists()
        .where(
            earlier.c.incident_id == outbox.c.incident_id,
            earlier.c.target == outbox.c.target,
            earlier.c.status == PENDING,
            earlier.c.id < outbox.c.id,
        )
        .correlate(outbox)
    )
    return sa.and_(
        outbox.c.status == PENDING,
        outbox.c.next_attempt_at <= now,
        sa.or_(~blocked, outbox.c.operation.in_(ENSURE_OPERATIONS)),
    )


def unclaimed(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(outbox.c.claimed_by.is_(None), outbox.c.claim_expires_at <= now)


def claim_rows(
    connection: Connection, owner: str, now: datetime, lease: timedelta, limit: int, target: str | None
) -> list[Any]:
    """Claim up to `limit` ready rows (of `target`, or any) for `owner` until now + lease; oldest first."""
    conditions = [due_condition(now), unclaimed(now)]
    if target is not None:
        conditions.append(outbox.c.target == target)
    query = sa.select(outbox.c.id).where(*conditions).order_by(outbox.c.id).limit(limit)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=outbox)
    ids = [row.id for row in connection.execute(query)]
    if not ids:
        return []
    connection.execute(
        sa.update(outbox).where(outbox.c.id.in_(ids)).values(claimed_by=owner, claim_expires_at=now + lease)
    )
    return list(connection.execute(sa.select(outbox).where(outbox.c.id.in_(ids)).order_by(outbox.c.id)))


def lock_key(incident_id: str, target: str) -> int:
    """A stable signed 64-bit advisory-lock key for (incident, target), the same on every replica."""
    digest = hashlib.sha256(f"oncall-outbox|{incident_id}|{target}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def exclusive(engine: Engine, incident_id: str, target: str) -> Iterator[bool]:
    """Yields True while this process alone delivers for (incident, target), False when another holds it."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = lock_key(incident_id, target)
    # Autocommit: a session lock needs no open transaction, and none is left idle during the remote call.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        acquired = bool(connection.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar())
        try:
            yield acquired
        finally:
            if acquired:
                try:
                    connection.execute(sa.select(sa.func.pg_advisory_unlock(key)))
                except Exception:
                    connection.invalidate()  # never hand a connection that may hold the lock back to the pool
                    raise
