"""The transactional outbox: every external write (ServiceNow, GitHub) is a row written in the same
transaction as the state change that caused it, and delivered later by the relay.

- `enqueue(connection, items, now)` runs inside the caller's transaction; a key that exists is ignored
  (`INSERT ... ON CONFLICT (key) DO NOTHING` on SQLite and PostgreSQL), so a replayed producer queues nothing
  twice.
- `SqlOutbox.due` hands out pending rows in order, at most one per (incident, target): a row whose earlier row
  for the same incident and target is still pending waits, so "ensure the ticket" precedes "add a work note"
  and notes arrive in the order they were written. Find-or-create rows (`ENSURE_OPERATIONS`) never wait.
- `mark_retry` backs off exponentially (capped) and gives up after `max_attempts` (status `failed`, kept).
- `mark_delivered` can merge links (ServiceNow sys_id/number, GitHub issue) into `incidents.links` in the same
  transaction, so a link exists exactly when the row that created it is delivered.

Delivery is at-least-once: two relays may deliver the same row, which is why every remote write is
idempotent by its key or marker.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
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
from oncall_agent.store.tables import incidents, outbox
from oncall_agent.store.write_gate import gate_for

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
TARGETS = frozenset({"servicenow", "github"})
# Find-or-create operations: order-independent, never held back by earlier rows (the rows that need what they
# create are: a work note queued before its ticket waits for the ticket, instead of blocking it).
ENSURE_OPERATIONS = ("servicenow.ensure_incident", "github.ensure_issue")


@dataclass(frozen=True)
class OutboxItem:
    key: str
    incident_id: str
    target: str  # servicenow | github
    operation: str  # e.g. servicenow.ensure_incident, github.comment
    payload: dict[str, Any]

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"outbox target {self.target!r} is not one of {sorted(TARGETS)}")
        if not self.operation.startswith(f"{self.target}."):
            raise ValueError(f"outbox operation {self.operation!r} does not belong to target {self.target!r}")
        if not self.key or len(self.key) > 255:
            raise ValueError("outbox key must be 1..255 characters")


@dataclass(frozen=True)
class OutboxRow:
    id: int
    key: str
    incident_id: str
    target: str
    operation: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    result: dict[str, Any] | None


def _row(row: Any) -> OutboxRow:
    return OutboxRow(**{column: getattr(row, column) for column in OutboxRow.__dataclass_fields__})


def enqueue(connection: Connection, items: Sequence[OutboxItem], now: datetime) -> int:
    """Queue `items` inside the caller's transaction, ignoring keys already queued; returns rows inserted."""
    if not items:
        return 0
    rows = [
        {
            "key": item.key,
            "incident_id": item.incident_id,
            "target": item.target,
            "operation": item.operation,
            "payload": item.payload,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for item in items
    ]
    dialect = connection.dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql.insert(outbox).on_conflict_do_nothing(index_elements=["key"])
    elif dialect == "sqlite":
        statement = sqlite.insert(outbox).on_conflict_do_nothing(index_elements=["key"])
    else:  # pragma: no cover - the store supports these two
        raise StoreError(f"outbox: unsupported database {dialect}")
    statement = statement.returning(outbox.c.id)  # rowcount is not reliable for ON CONFLICT on every driver
    inserted = 0
    for row in rows:  # one by one, so ids follow the order of the items
        inserted += len(connection.execute(statement, row).all())
    return inserted


class SqlOutbox:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        base_backoff: timedelta = timedelta(seconds=10),
        max_backoff: timedelta = timedelta(minutes=15),
        max_attempts: int = 10,
    ) -> None:
        self._engine = engine
        self._writer = writer(engine)
        self._gate = gate_for(engine)
        self._clock = clock
        self._base_backoff = base_backoff
        self._max_backoff = max_backoff
        self._max_attempts = max_attempts

    @contextmanager
    def _write(self, what: str) -> Iterator[Connection]:
        with translate_errors(what), self._gate.background(), self._writer.begin() as connection:
            yield connection

    def enqueue(self, items: Sequence[OutboxItem]) -> int:
        """Queue `items` in a transaction of their own (producers with a state change use `enqueue`)."""
        with self._write("enqueue outbox items") as connection:
            return enqueue(connection, items, self._clock.now())

    def due(self, limit: int = 50) -> list[OutboxRow]:
        """Pending rows whose time has come, oldest first, skipping any row that has an earlier pending row
        for the same incident and target (`ENSURE_OPERATIONS` excepted)."""
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
        query = (
            sa.select(outbox)
            .where(
                outbox.c.status == PENDING,
                outbox.c.next_attempt_at <= self._clock.now(),
                sa.or_(~blocked, outbox.c.operation.in_(ENSURE_OPERATIONS)),
            )
            .order_by(outbox.c.id)
            .limit(limit)
        )
        with translate_errors("read due outbox rows"), self._engine.connect() as connection:
            return [_row(row) for row in connection.execute(query)]

    def for_incident(self, incident_id: str) -> list[OutboxRow]:
        with translate_errors(f"read outbox of {incident_id}"), self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(outbox).where(outbox.c.incident_id == incident_id).order_by(outbox.c.id)
            )
            return [_row(row) for row in rows]

    def links(self, incident_id: str) -> dict[str, str]:
        """The incident's external links (empty when the incident does not exist)."""
        with translate_errors(f"read links of {incident_id}"), self._engine.connect() as connection:
            value = connection.execute(sa.select(incidents.c.links).where(incidents.c.id == incident_id)).scalar()
        return dict(value or {})

    def mark_delivered(
        self, row_id: int, result: dict[str, Any] | None = None, links: Mapping[str, str] | None = None
    ) -> None:
        """Row delivered; `links` are merged into the incident's links in the same transaction."""
        now = self._clock.now()
        with self._write(f"mark outbox row {row_id} delivered") as connection:
            incident_id = connection.execute(
                sa.update(outbox)
                .where(outbox.c.id == row_id)
                .values(status=DELIVERED, delivered_at=now, result=result, last_error=None)
                .returning(outbox.c.incident_id)
            ).scalar()
            if incident_id is None:
                raise StoreError(f"no outbox row {row_id}")
            if links:
                _merge_links(connection, incident_id, links, now)

    def mark_retry(self, row_id: int, error: str, backoff: timedelta | None = None) -> OutboxRow:
        """One more failed attempt: retry after `backoff` (default: exponential, capped), or give up (FAILED)
        once `max_attempts` is reached. The row stays visible either way."""
        now = self._clock.now()
        with self._write(f"mark outbox row {row_id} for retry") as connection:
            attempts = connection.execute(
                sa.select(outbox.c.attempts).where(outbox.c.id == row_id).with_for_update()
            ).scalar()
            if attempts is None:
                raise StoreError(f"no outbox row {row_id}")
            attempts += 1
            delay = backoff if backoff is not None else self.backoff(attempts)
            status = FAILED if attempts >= self._max_attempts else PENDING
            connection.execute(
                sa.update(outbox)
                .where(outbox.c.id == row_id)
                .values(attempts=attempts, status=status, last_error=error[:2000], next_attempt_at=now + delay)
            )
            return _row(connection.execute(sa.select(outbox).where(outbox.c.id == row_id)).one())

    def mark_failed(self, row_id: int, error: str) -> None:
        """Give up on a row now (an operation that can never succeed); it stays visible."""
        with self._write(f"mark outbox row {row_id} failed") as connection:
            connection.execute(
                sa.update(outbox)
                .where(outbox.c.id == row_id)
                .values(status=FAILED, last_error=error[:2000], attempts=outbox.c.attempts + 1)
            )

    def backoff(self, attempts: int) -> timedelta:
        """base * 2^(attempts-1), at most `max_backoff`."""
        exponent = min(max(attempts - 1, 0), 30)
        return min(self._base_backoff * (1 << exponent), self._max_backoff)


def _merge_links(connection: Connection, incident_id: str, links: Mapping[str, str], now: datetime) -> None:
    current = connection.execute(
        sa.select(incidents.c.links).where(incidents.c.id == incident_id).with_for_update()
    ).scalar()
    merged = {**(current or {}), **{key: str(value) for key, value in links.items()}}
    connection.execute(sa.update(incidents).where(incidents.c.id == incident_id).values(links=merged, updated_at=now))
