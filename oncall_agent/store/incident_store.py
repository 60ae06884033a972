"""SqlIncidentStore: the `ports.IncidentStore` implementation over one SQLAlchemy engine.

Thin on purpose: it owns transactions (write transactions start with BEGIN IMMEDIATE on SQLite), the clock and
error translation; the queries live in `events`, `incidents` and `apply_grouping`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from oncall_agent.domain.alarm import AlarmEvent
from oncall_agent.domain.errors import StoreError
from oncall_agent.domain.incident import Incident, IncidentStatus, Resolution
from oncall_agent.lifecycle import status_changed
from oncall_agent.ports import AppendResult, Clock, GroupedEvent, GroupingRule, IncidentStore
from oncall_agent.store import events, incidents
from oncall_agent.store.apply_grouping import group_batch
from oncall_agent.store.engine import writer
from oncall_agent.store.errors import translate_errors
from oncall_agent.store.group_commit import GroupCommitAppender
from oncall_agent.store.migrate import current_revision, head_revision
from oncall_agent.store.tables import incidents as incidents_table
from oncall_agent.store.write_gate import WriteGate, gate_for

# Events grouped per transaction: big enough to amortise the views and the commit, small enough that intake
# (SQLite: one writer; PostgreSQL: the grouping lock) never waits long behind it.
GROUPING_BATCH = 50


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SqlIncidentStore:
    """Alarm events, incidents and their timelines in SQLite or PostgreSQL (schema from `migrate.upgrade`)."""

    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self._engine = engine
        self._writer = writer(engine)
        self._clock = clock or SystemClock()
        self._gate = gate_for(engine)
        self._appender: GroupCommitAppender | None = None
        if isinstance(self._gate, WriteGate):  # one writer at a time: queue writers here, appends first, batched
            self._appender = GroupCommitAppender(self._writer, self._gate, self._clock.now)

    @property
    def engine(self) -> Engine:
        return self._engine

    def append_event(self, event: AlarmEvent) -> AppendResult:
        if self._appender is not None:
            return self._appender.append(event)
        with translate_errors(f"append event for {event.alarm_name}"):
            return events.append_event(self._writer, event, self._clock.now())

    def close(self) -> None:
        """Commit queued appends, stop the writer thread, release the connections."""
        if self._appender is not None:
            self._appender.close()
        self._engine.dispose()

    def group_pending(self, rule: GroupingRule, limit: int = 100) -> list[GroupedEvent]:
        grouped: list[GroupedEvent] = []
        while len(grouped) < limit:
            size = min(GROUPING_BATCH, limit - len(grouped))
            with translate_errors("group events"), self._gate.background(), self._writer.begin() as connection:
                batch = group_batch(connection, rule, self._clock.now(), size)
            grouped.extend(batch)
            if len(batch) < size:
                break
        return grouped

    def pending_events(self, limit: int = 100) -> list[AlarmEvent]:
        with translate_errors("read pending events"), self._engine.connect() as connection:
            payloads = events.pending(connection, limit)
        found = []
        for payload in payloads:
            try:
                found.append(AlarmEvent.model_validate(payload))
            except ValidationError:
                continue  # grouping quarantines it
        return found

    def get_incident(self, incident_id: str) -> Incident | None:
        with translate_errors(f"read incident {incident_id}"), self._engine.begin() as connection:
            found = incidents.load_incidents(connection, incidents_table.c.id == incident_id)
        return found[0] if found else None

    def list_incidents(self, statuses: Iterable[IncidentStatus] | None = None) -> list[Incident]:
        """Incidents (with the given statuses, if any), newest first."""
        where = None
        if statuses is not None:
            where = incidents_table.c.status.in_(sorted({status.value for status in statuses}))
        with translate_errors("list incidents"), self._engine.begin() as connection:
            return incidents.load_incidents(connection, where)

    def set_status(self, incident_id: str, status: IncidentStatus, note: str) -> Incident:
        """Move the incident to `status` (InvalidTransition if the lifecycle forbids it; a no-op if it is
        already there); StoreError if there is no such incident."""
        with (
            translate_errors(f"set status of {incident_id}"),
            self._gate.background(),
            self._writer.begin() as connection,
        ):
            changed = incidents.change_status(connection, incident_id, status, note, self._clock.now())
            found = incidents.load_incidents(connection, incidents_table.c.id == incident_id)
        if changed:
            status_changed(incident_id, status, note)
        return found[0]

    def record_past_incident(self, *, service: str, title: str, opened_at: datetime, resolution: Resolution) -> str:
        """Add a closed incident with its resolution to the memory (idempotent); returns its id."""
        with translate_errors("record past incident"), self._gate.background(), self._writer.begin() as connection:
            return incidents.insert_past_incident(
                connection,
                service=service,
                title=title,
                opened_at=opened_at,
                resolution=resolution,
                now=self._clock.now(),
            )

    def event_counts(self) -> dict[str, int]:
        with translate_errors("count events"), self._engine.begin() as connection:
            return events.event_counts(connection)

    def ping(self) -> None:
        with translate_errors("ping"), self._engine.connect() as connection:
            connection.execute(sa.select(1))
            revision = current_revision(connection)
        expected = head_revision()
        if revision != expected:
            raise StoreError(
                f"database schema is at {revision or 'no revision'}, this code needs {expected}: "
                "run `oncall-agent db upgrade`"
            )


if TYPE_CHECKING:  # mypy proves the class satisfies the port it exists for
    _conforms: type[IncidentStore] = SqlIncidentStore
