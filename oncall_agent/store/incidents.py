"""Incident rows: reading them as domain Incidents, the grouper's view of active ones, and the writes grouping
and the lifecycle make (new incidents, alarm states, timeline entries, status changes).

All functions take a Connection inside the caller's transaction; none commits.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from oncall_agent.domain.alarm import AlarmEvent, AlarmState
from oncall_agent.domain.errors import StoreError
from oncall_agent.domain.grouping import OpenIncidentView
from oncall_agent.domain.incident import (
    ACTIVE_STATUSES,
    Incident,
    IncidentAlarm,
    IncidentStatus,
    Resolution,
    TimelineEntry,
    transition,
)
from oncall_agent.store.tables import incident_alarms, incidents, timeline

_ACTIVE = sorted(status.value for status in ACTIVE_STATUSES)


def new_incident_id() -> str:
    return f"inc-{uuid.uuid4().hex[:12]}"


def load_incidents(connection: Connection, where: sa.ColumnElement[bool] | None = None) -> list[Incident]:
    """Incidents matching `where` (all when None), newest first, with their alarms and timelines.

    Three queries whatever the number of incidents: alarms and timeline rows are fetched by joining on the
    same filter rather than one query per incident.
    """
    condition = where if where is not None else sa.true()
    rows = connection.execute(
        sa.select(incidents).where(condition).order_by(incidents.c.opened_at.desc(), incidents.c.id.desc())
    ).all()
    if not rows:
        return []
    alarms: defaultdict[str, list[IncidentAlarm]] = defaultdict(list)
    for alarm in connection.execute(
        sa.select(incident_alarms).join(incidents).where(condition).order_by(incident_alarms.c.alarm_name)
    ):
        alarms[alarm.incident_id].append(
            IncidentAlarm(
                alarm_arn=alarm.alarm_arn,
                alarm_name=alarm.alarm_name,
                state=AlarmState(alarm.state),
                state_timestamp=alarm.state_timestamp,
            )
        )
    entries: defaultdict[str, list[TimelineEntry]] = defaultdict(list)
    for entry in connection.execute(
        sa.select(timeline).join(incidents).where(condition).order_by(timeline.c.at, timeline.c.id)
    ):
        entries[entry.incident_id].append(
            TimelineEntry(at=entry.at, kind=entry.kind, message=entry.message, data=entry.data)
        )
    return [_incident(row, alarms[row.id], entries[row.id]) for row in rows]


def _incident(row: sa.Row[Any], alarms: list[IncidentAlarm], entries: list[TimelineEntry]) -> Incident:
    return Incident(
        id=row.id,
        fingerprint=row.fingerprint,
        service=row.service,
        status=IncidentStatus(row.status),
        severity=row.severity,
        first_event_at=row.first_event_at,
        last_event_at=row.last_event_at,
        alarms=alarms,
        title=row.title,
        resolution=Resolution.model_validate(row.resolution) if row.resolution else None,
        links=row.links,
        timeline=entries,
    )


def active_views(connection: Connection, only: str | None = None) -> list[OpenIncidentView]:
    """What grouping needs about every active incident (or only incident `only`, if it is active): two indexed
    queries, resolved history untouched."""
    active: sa.ColumnElement[bool] = incidents.c.status.in_(_ACTIVE)
    if only is not None:
        active = sa.and_(active, incidents.c.id == only)
    states: defaultdict[str, dict[str, tuple[AlarmState, datetime]]] = defaultdict(dict)
    for alarm in connection.execute(
        sa.select(
            incident_alarms.c.incident_id,
            incident_alarms.c.alarm_arn,
            incident_alarms.c.state,
            incident_alarms.c.state_timestamp,
        )
        .join(incidents)
        .where(active)
    ):
        states[alarm.incident_id][alarm.alarm_arn] = (AlarmState(alarm.state), alarm.state_timestamp)
    rows = connection.execute(
        sa.select(incidents.c.id, incidents.c.service, incidents.c.first_event_at, incidents.c.last_event_at)
        .where(active)
        .order_by(incidents.c.id)
    )
    return [
        OpenIncidentView(row.id, row.service, row.first_event_at, row.last_event_at, states[row.id]) for row in rows
    ]


def create_incident(connection: Connection, event: AlarmEvent, *, service: str, fingerprint: str, now: datetime) -> str:
    """Open a new incident for `event` (its first alarm); returns the incident id."""
    incident_id = new_incident_id()
    connection.execute(
        sa.insert(incidents).values(
            id=incident_id,
            fingerprint=fingerprint,
            service=service,
            status=IncidentStatus.OPEN.value,
            severity="unknown",
            first_event_at=event.state_timestamp,
            last_event_at=event.state_timestamp,
            opened_at=now,
            updated_at=now,
            links={},
        )
    )
    put_alarm_state(connection, incident_id, event)
    return incident_id


def put_alarm_state(connection: Connection, incident_id: str, event: AlarmEvent) -> None:
    """Record `event`'s state as the latest the incident knows for that alarm (insert or update).

    Select-then-write is safe here: callers hold the grouping lock (PostgreSQL) or the write lock (SQLite).
    """
    values = {
        "alarm_name": event.alarm_name,
        "state": event.new_state.value,
        "state_timestamp": event.state_timestamp,
    }
    updated = connection.execute(
        sa.update(incident_alarms)
        .where(incident_alarms.c.incident_id == incident_id, incident_alarms.c.alarm_arn == event.alarm_arn)
        .values(**values)
    )
    if updated.rowcount == 0:
        connection.execute(
            sa.insert(incident_alarms).values(incident_id=incident_id, alarm_arn=event.alarm_arn, **values)
        )


def add_timeline(
    connection: Connection, incident_id: str, at: datetime, kind: str, message: str, data: dict[str, Any]
) -> None:
    connection.execute(
        sa.insert(timeline).values(incident_id=incident_id, at=at, kind=kind, message=message, data=data)
    )


def change_status(connection: Connection, incident_id: str, target: IncidentStatus, note: str, now: datetime) -> bool:
    """Apply a lifecycle transition (InvalidTransition when the lifecycle forbids it) and put it on the timeline;
    False when the incident was already there."""
    row = connection.execute(
        sa.select(incidents.c.status).where(incidents.c.id == incident_id).with_for_update()
    ).first()
    if row is None:
        raise StoreError(f"no incident {incident_id!r}")
    current = IncidentStatus(row.status)
    if transition(current, target) == current:
        return False  # already there: a retried request changes nothing and logs nothing
    connection.execute(
        sa.update(incidents).where(incidents.c.id == incident_id).values(status=target.value, updated_at=now)
    )
    message = f"status {current.value} -> {target.value}" + (f": {note}" if note else "")
    data = {"from": current.value, "to": target.value, "note": note}
    add_timeline(connection, incident_id, now, "status", message, data)
    return True


def past_incident_id(service: str, title: str, opened_at: datetime) -> str:
    """Content-derived, so importing the same history twice adds nothing."""
    digest = hashlib.sha256(f"{service}|{title}|{opened_at.isoformat()}".encode()).hexdigest()
    return f"inc-past-{digest[:12]}"


def insert_past_incident(
    connection: Connection, *, service: str, title: str, opened_at: datetime, resolution: Resolution, now: datetime
) -> str:
    """A closed incident from before the agent's time (or another system's), unless it is already there."""
    incident_id = past_incident_id(service, title, opened_at)
    if connection.execute(sa.select(incidents.c.id).where(incidents.c.id == incident_id)).first() is None:
        connection.execute(
            sa.insert(incidents).values(
                id=incident_id,
                fingerprint=f"service:{service}",
                service=service,
                status=IncidentStatus.CLOSED.value,
                severity="unknown",
                first_event_at=opened_at,
                last_event_at=opened_at,
                opened_at=opened_at,
                updated_at=now,
                links={},
                title=title,
                resolution=resolution.model_dump(mode="json"),
            )
        )
        add_timeline(
            connection,
            incident_id,
            opened_at,
            "history",
            f"imported past incident: {title}",
            resolution.model_dump(mode="json"),
        )
    return incident_id
