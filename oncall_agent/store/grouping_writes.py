"""The writes of one grouping batch, collected while its events are decided and made in a few statements at its
end: the alarms' latest states (one upsert), each touched incident's times (one UPDATE per incident), the timeline
entries and the events' marks (one executemany each). Per-event statements made grouping a round trip per write,
which an alarm storm of thousands of events turned into a backlog.

Deferring is safe because the batch decides on in-memory views that already include its own events
(`domain.grouping.view_after`), and everything is written in the batch's one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from oncall_agent.domain.alarm import AlarmEvent
from oncall_agent.store.events import mark_grouped_many
from oncall_agent.store.tables import incident_alarms, incidents, timeline


@dataclass
class _Touch:
    now: datetime
    earliest: datetime | None = None
    latest: datetime | None = None


@dataclass
class GroupingWrites:
    states: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    touches: dict[str, _Touch] = field(default_factory=dict)
    entries: list[dict[str, Any]] = field(default_factory=list)
    marks: list[tuple[int, str | None, str]] = field(default_factory=list)

    def alarm_state(self, incident_id: str, event: AlarmEvent) -> None:
        """`event`'s state becomes the latest the incident knows for that alarm (a later one in the batch wins)."""
        self.states[(incident_id, event.alarm_arn)] = {
            "incident_id": incident_id,
            "alarm_arn": event.alarm_arn,
            "alarm_name": event.alarm_name,
            "state": event.new_state.value,
            "state_timestamp": event.state_timestamp,
        }

    def touch(self, incident_id: str, now: datetime, alarm_at: datetime | None = None) -> None:
        """updated_at = now; with `alarm_at` (an ALARM that joined), widen [first_event_at, last_event_at] to it."""
        touch = self.touches.setdefault(incident_id, _Touch(now))
        touch.now = max(touch.now, now)
        if alarm_at is not None:
            touch.earliest = alarm_at if touch.earliest is None else min(touch.earliest, alarm_at)
            touch.latest = alarm_at if touch.latest is None else max(touch.latest, alarm_at)

    def note(self, incident_id: str, at: datetime, kind: str, message: str, data: dict[str, Any]) -> None:
        self.entries.append({"incident_id": incident_id, "at": at, "kind": kind, "message": message, "data": data})

    def mark(self, event_id: int, incident_id: str | None, outcome: str) -> None:
        self.marks.append((event_id, incident_id, outcome))

    def flush(self, connection: Connection) -> None:
        if self.states:
            connection.execute(_upsert_alarm_state(connection.dialect.name), list(self.states.values()))
        for incident_id, touch in self.touches.items():
            connection.execute(_touch_statement(incident_id, touch))
        if self.entries:
            connection.execute(sa.insert(timeline), self.entries)
        mark_grouped_many(connection, self.marks)


def _upsert_alarm_state(dialect: str) -> Any:
    insert = postgresql.insert(incident_alarms) if dialect == "postgresql" else sqlite.insert(incident_alarms)
    changed = {name: insert.excluded[name] for name in ("alarm_name", "state", "state_timestamp")}
    return insert.on_conflict_do_update(index_elements=["incident_id", "alarm_arn"], set_=changed)


def _touch_statement(incident_id: str, touch: _Touch) -> sa.Update:
    values: dict[str, Any] = {"updated_at": touch.now}
    first, last = incidents.c.first_event_at, incidents.c.last_event_at
    if touch.latest is not None:
        values["last_event_at"] = sa.case((last < touch.latest, touch.latest), else_=last)
    if touch.earliest is not None:
        values["first_event_at"] = sa.case((first > touch.earliest, touch.earliest), else_=first)
    return sa.update(incidents).where(incidents.c.id == incident_id).values(**values)
