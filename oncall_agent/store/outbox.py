"""The transactional outbox: every external write (ServiceNow, GitHub) is a row written in the same
transaction as the state change that caused it, and delivered later by the relay.

- `enqueue(connection, items, now)` runs inside the caller's transaction; a key that exists is ignored
  (`INSERT ... ON CONFLICT (key) DO NOTHING` on SQLite and PostgreSQL), so a replayed producer queues nothing
  twice.
- `SqlOutbox.claim` hands out ready rows to one relay at a time (claimed until a lease expires; see
  `outbox_claims`), at most one per (incident, target) in order; `due` shows the same rows without claiming.
  `exclusive` serialises delivery per (incident, target) across replicas.
- `mark_retry` backs off exponentially (capped), or by the delay the tracker asked for, and gives up after
  `max_attempts` (status `failed`, kept, with timeline entries on the incident: see `outbox_failures`).
  `requeue` puts failed rows back (the `oncall-agent outbox retry` command).
- `mark_delivered` can merge links (ServiceNow sys_id/number, GitHub issue) into `incidents.links` in the same
  transaction, so a link exists exactly when the row that created it is delivered.

Delivery is at-least-once (a relay can die between the remote write and `mark_delivered`), which is why every
remote write is also idempotent by its key or marker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from oncall_agent.domain.errors import StoreError
from oncall_agent.ports import Clock
from oncall_agent.store.engine import writer
from oncall_agent.store.errors import translate_errors
from oncall_agent.store.outbox_claims import ENSURE_OPERATIONS, PENDING, claim_rows, due_condition, exclusive, unclaimed
from oncall_agent.store.outbox_failures import record_failure
from oncall_agent.store.outbox_rows import DELIVERED, FAILED, STATUSES, OutboxItem, OutboxRow, as_row, enqueue
from oncall_agent.store.tables import incidents, outbox
from oncall_agent.store.write_gate import gate_for

__all__ = ["DELIVERED", "ENSURE_OPERATIONS", "FAILED", "PENDING", "OutboxItem", "OutboxRow", "SqlOutbox", "enqueue"]


class SqlOutbox:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        base_backoff: timedelta = timedelta(seconds=10),
        max_backoff: timedelta = timedelta(minutes=15),
        max_attempts: int = 10,
        claim_lease: timedelta = timedelta(seconds=30),
    ) -> None:
        self._engine = engine
        self._writer = writer(engine)
        self._gate = gate_for(engine)
        self._clock = clock
        self._base_backoff = base_backoff
        self._max_backoff = max_backoff
        self._max_attempts = max_attempts
        # Short, so a dead replica's rows are taken over within 30 s. A delivery that outlasts its claim is still
        # never repeated concurrently: delivery holds the (incident, target) lock and re-checks (`renew`) first.
        self._claim_lease = claim_lease

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
        for the same incident and target (`ENSURE_OPERATIONS` excepted). Claims are ignored: a read."""
        query = sa.select(outbox).where(due_condition(self._clock.now())).order_by(outbox.c.id).limit(limit)
        with translate_errors("read due outbox rows"), self._engine.connect() as connection:
            return [as_row(row) for row in connection.execute(query)]

    def claim(self, owner: str, limit: int = 10, target: str | None = None) -> list[OutboxRow]:
        """Claim up to `limit` due rows (of `target`, or any) for `owner`, until now + the claim lease; rows
        another relay holds are skipped, rows whose claim expired are taken over."""
        now = self._clock.now()
        with self._write("claim outbox rows") as connection:
            return [as_row(row) for row in claim_rows(connection, owner, now, self._claim_lease, limit, target)]

    def exclusive(self, incident_id: str, target: str) -> AbstractContextManager[bool]:
        """True inside while no other replica delivers for (incident, target); False: leave the row alone."""
        return exclusive(self._engine, incident_id, target)

    def renew(self, row_id: int, owner: str) -> bool:
        """Re-check a claimed row just before delivering it: True (and the claim extended) when it is still
        pending and `owner`'s or nobody's; False when another relay took it over or it was delivered since."""
        now = self._clock.now()
        with self._write(f"renew claim on outbox row {row_id}") as connection:
            renewed = connection.execute(
                sa.update(outbox)
                .where(outbox.c.id == row_id, outbox.c.status == PENDING)
                .where(sa.or_(outbox.c.claimed_by == owner, unclaimed(now)))
                .values(claimed_by=owner, claim_expires_at=now + self._claim_lease)
            ).rowcount
        return bool(renewed)

    def release(self, row_id: int, delay: timedelta = timedelta(0)) -> None:
        """Give a claimed row back untouched (no attempt counted), due again after `delay`."""
        with self._write(f"release outbox row {row_id}") as connection:
            connection.execute(
                sa.update(outbox)
                .where(outbox.c.id == row_id, outbox.c.status == PENDING)
                .values(claimed_by=None, claim_expires_at=None, next_attempt_at=self._clock.now() + delay)
            )

    def rows(self, status: str | None = None, limit: int = 500) -> list[OutboxRow]:
        """Rows with `status` (any when None), newest first."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"outbox status {status!r} is not one of {', '.join(STATUSES)}")
        query = sa.select(outbox).order_by(outbox.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(outbox.c.status == status)
        with translate_errors("list outbox rows"), self._engine.connect() as connection:
            return [as_row(row) for row in connection.execute(query)]

    def requeue(self, row_id: int | None = None) -> list[OutboxRow]:
        """Put failed row `row_id` (every failed row when None) back in the queue, due now with its attempts
        reset; StoreError when `row_id` does not exist or was delivered. Returns the rows requeued."""
        now = self._clock.now()
        with self._write("requeue outbox rows") as connection:
            if row_id is not None:
                status = connection.execute(sa.select(outbox.c.status).where(outbox.c.id == row_id)).scalar()
                if status is None:
                    raise StoreError(f"no outbox row {row_id}")
                if status == DELIVERED:
                    raise StoreError(f"outbox row {row_id} was already delivered")
            which = outbox.c.status == FAILED if row_id is None else outbox.c.id == row_id
            ids = list(connection.execute(sa.select(outbox.c.id).where(which)).scalars())
            if ids:
                connection.execute(
                    sa.update(outbox)
                    .where(outbox.c.id.in_(ids))
                    .values(status=PENDING, attempts=0, next_attempt_at=now, claimed_by=None, claim_expires_at=None)
                )
            rows = connection.execute(sa.select(outbox).where(outbox.c.id.in_(ids)).order_by(outbox.c.id))
            return [as_row(row) for row in rows]

    def for_incident(self, incident_id: str) -> list[OutboxRow]:
        with translate_errors(f"read outbox of {incident_id}"), self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(outbox).where(outbox.c.incident_id == incident_id).order_by(outbox.c.id)
            )
            return [as_row(row) for row in rows]

    def links(self, incident_id: str) -> dict[str, str]:
        """The incident's external links (empty when the incident does not exist)."""
        with translate_errors(f"read links of {incident_id}"), self._engine.connect() as connection:
            value = connection.execute(sa.select(incidents.c.links).where(incidents.c.id == incident_id)).scalar()
        return dict(value or {})

    def mark_delivered(
        self,
        row_id: int,
        result: dict[str, Any] | None = None,
        links: Mapping[str, str] | None = None,
        follow: Callable[[Mapping[str, str]], Sequence[OutboxItem]] | None = None,
    ) -> None:
        """Row delivered; `links` are merged into the incident's links in the same transaction, and the rows
        `follow(links after the merge)` returns are queued in it too. The merge locks the incident's row, so
        of two replicas recording two links at once the second sees the first's."""
        now = self._clock.now()
        with self._write(f"mark outbox row {row_id} delivered") as connection:
            _lock_incident_of(connection, row_id)
            incident_id = connection.execute(
                sa.update(outbox)
                .where(outbox.c.id == row_id)
                .values(
                    status=DELIVERED,
                    delivered_at=now,
                    result=result,
                    last_error=None,
                    claimed_by=None,
                    claim_expires_at=None,
                )
                .returning(outbox.c.incident_id)
            ).scalar()
            if incident_id is None:
                raise StoreError(f"no outbox row {row_id}")
            merged = _merge_links(connection, incident_id, links or {}, now)
            if follow is not None:
                enqueue(connection, follow(merged), now)

    def mark_retry(self, row_id: int, error: str, backoff: timedelta | None = None) -> OutboxRow:
        """One more failed attempt: retry after `backoff` (default: exponential, capped), or give up (FAILED,
        with timeline entries on the incident) once `max_attempts` is reached. The row stays visible."""
        now = self._clock.now()
        with self._write(f"mark outbox row {row_id} for retry") as connection:
            _lock_incident_of(connection, row_id)
            attempts = connection.execute(
                sa.select(outbox.c.attempts).where(outbox.c.id == row_id).with_for_update()
            ).scalar()
            if attempts is None:
                raise StoreError(f"no outbox row {row_id}")
            attempts += 1
            delay = backoff if backoff is not None else self.backoff(attempts)
            status = FAILED if attempts >= self._max_attempts else PENDING
            values = {"attempts": attempts, "status": status, "next_attempt_at": now + delay}
            return self._finish_attempt(connection, row_id, error, values, now)

    def mark_failed(self, row_id: int, error: str) -> OutboxRow:
        """Give up on a row now (an operation that can never succeed); it stays visible."""
        now = self._clock.now()
        with self._write(f"mark outbox row {row_id} failed") as connection:
            _lock_incident_of(connection, row_id)
            values = {"status": FAILED, "attempts": outbox.c.attempts + 1}
            return self._finish_attempt(connection, row_id, error, values, now)

    def _finish_attempt(
        self, connection: Connection, row_id: int, error: str, values: dict[str, Any], now: datetime
    ) -> OutboxRow:
        connection.execute(
            sa.update(outbox)
            .where(outbox.c.id == row_id)
            .values(**values, last_error=error[:2000], claimed_by=None, claim_expires_at=None)
        )
        found = connection.execute(sa.select(outbox).where(outbox.c.id == row_id)).first()
        if found is None:
            raise StoreError(f"no outbox row {row_id}")
        if found.status == FAILED:
            record_failure(connection, found, now)
        return as_row(found)

    def backoff(self, attempts: int) -> timedelta:
        """base * 2^(attempts-1), at most `max_backoff`."""
        exponent = min(max(attempts - 1, 0), 30)
        return min(self._base_backoff * (1 << exponent), self._max_backoff)


def _lock_incident_of(connection: Connection, row_id: int) -> None:
    """Lock the incident row of outbox row `row_id` before the outbox row itself. Every transaction that holds
    both locks takes them in this order: one that updated an outbox row first and then waited for the incident
    deadlocked against a `mark_delivered` that held the incident and re-queued cross-links whose keys collide
    with that row (`ON CONFLICT` waits for the row's updater)."""
    incident_id = connection.execute(sa.select(outbox.c.incident_id).where(outbox.c.id == row_id)).scalar()
    if incident_id is not None:
        connection.execute(sa.select(incidents.c.id).where(incidents.c.id == incident_id).with_for_update())


def _merge_links(connection: Connection, incident_id: str, links: Mapping[str, str], now: datetime) -> dict[str, str]:
    """The incident's links with `links` merged in (written only when there are any); the row stays locked."""
    current = connection.execute(
        sa.select(incidents.c.links).where(incidents.c.id == incident_id).with_for_update()
    ).scalar()
    merged = {**(current or {}), **{key: str(value) for key, value in links.items()}}
    if links:
        connection.execute(
            sa.update(incidents).where(incidents.c.id == incident_id).values(links=merged, updated_at=now)
        )
    return merged
