"""The store's half of grouping: take the next ungrouped event, ask the rule, persist the decision.

One event per transaction. An event that cannot be grouped is quarantined, not retried forever.
Concurrency: on PostgreSQL a transaction-level advisory lock makes groupers on different replicas take turns,
so two of them can never each open an incident for the same service (each would decide on a view that lacks
the other's new incident). On SQLite the caller's `BEGIN IMMEDIATE` gives the same guarantee. Grouping one
event is a few small queries, so serialising it costs little.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Connection

from oncall_agent.domain.alarm import AlarmEvent
from oncall_agent.domain.errors import OncallAgentError, StoreError
from oncall_agent.domain.grouping import GroupingDecision, GroupingOutcome
from oncall_agent.ports import GroupedEvent, GroupingRule
from oncall_agent.store import events, incidents

# Fixed and shared by every replica ("oncall" in ASCII, then 2 = grouping; 1 is the migration lock).
GROUPING_LOCK_KEY = 0x6F6E63616C6C02
_NEEDS_INCIDENT = frozenset({GroupingOutcome.JOIN, GroupingOutcome.RECOVER, GroupingOutcome.NOTE})


def group_next(connection: Connection, rule: GroupingRule, now: datetime) -> GroupedEvent | None:
    """Group the oldest ungrouped event inside the caller's transaction; None when the queue is empty."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(GROUPING_LOCK_KEY)))
    queued = events.next_ungrouped(connection)
    if queued is None:
        return None
    event_id, payload = queued
    try:
        event = AlarmEvent.model_validate(payload)
        views = incidents.active_views(connection)
        decision = rule(event, views)
        if decision.outcome in _NEEDS_INCIDENT and decision.incident_id not in {view.id for view in views}:
            raise StoreError(f"grouping rule chose {decision.incident_id!r}, which is not an active incident")
    except (ValidationError, OncallAgentError, ValueError, KeyError, TypeError) as exc:
        # One bad event must not stall every event behind it: it stays stored, marked, for a person to look at.
        events.mark_grouped(connection, event_id, None, GroupingOutcome.QUARANTINED.value)
        quarantined = GroupingDecision(GroupingOutcome.QUARANTINED, None, "", "")
        return GroupedEvent(event_id, str(payload.get("alarm_name", "?")), quarantined, f"{type(exc).__name__}: {exc}")
    incident_id = _apply(connection, event, event_id, decision, now)
    events.mark_grouped(connection, event_id, incident_id, decision.outcome.value)
    return GroupedEvent(event_id, event.alarm_name, replace(decision, incident_id=incident_id))


def _apply(
    connection: Connection, event: AlarmEvent, event_id: int, decision: GroupingDecision, now: datetime
) -> str | None:
    """Persist `decision`; returns the incident the event now belongs to (new for CREATE)."""
    data = {
        "event_id": event_id,
        "alarm_arn": event.alarm_arn,
        "alarm_name": event.alarm_name,
        "state": event.new_state.value,
        "reason": event.reason,
    }
    at = event.state_timestamp
    if decision.outcome is GroupingOutcome.CREATE:
        created = incidents.create_incident(
            connection, event, service=decision.service, fingerprint=decision.fingerprint, now=now
        )
        incidents.add_timeline(connection, created, at, "alarm", f"alarm {event.alarm_name} ALARM", data)
        return created
    incident_id = decision.incident_id
    if incident_id is None or decision.outcome not in _NEEDS_INCIDENT:
        return incident_id  # STALE, RECORD: recorded against the event only
    if decision.outcome is GroupingOutcome.JOIN:
        incidents.put_alarm_state(connection, incident_id, event)
        incidents.touch(connection, incident_id, now, alarm_at=event.state_timestamp)
        incidents.add_timeline(connection, incident_id, at, "alarm", f"alarm {event.alarm_name} ALARM", data)
    elif decision.outcome is GroupingOutcome.RECOVER:
        # Recovery is recorded, never acted on: resolving is the investigation's verify step.
        incidents.put_alarm_state(connection, incident_id, event)
        incidents.touch(connection, incident_id, now)
        message = f"alarm {event.alarm_name} recovered"
        incidents.add_timeline(connection, incident_id, at, "recovery", message, data)
        if incidents.alarms_in_alarm(connection, incident_id) == 0:
            incidents.add_timeline(connection, incident_id, at, "all_recovered", "all alarms recovered", {})
    else:  # NOTE: e.g. INSUFFICIENT_DATA, worth a line in the timeline but no state change
        incidents.touch(connection, incident_id, now)
        message = f"alarm {event.alarm_name} {event.new_state.value}"
        incidents.add_timeline(connection, incident_id, at, "alarm_state", message, data)
    return incident_id
