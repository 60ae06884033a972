"""The store's half of grouping: take the next ungrouped events, ask the rule, persist each decision.

A batch of events per transaction, oldest first, each decided on the active incidents as the events before it
left them: the views are read once per batch and kept up to date with `domain.grouping.view_after` (a full
re-read per event made grouping slower the more alarms the open incidents held); a new incident is read back.
An event that cannot be grouped is quarantined, not retried forever.
Concurrency: on PostgreSQL a transaction-level advisory lock makes groupers on different replicas take turns,
so two of them can never each open an incident for the same service (each would decide on a view that lacks
the other's new incident). On SQLite the caller's `BEGIN IMMEDIATE` gives the same guarantee. Grouping one
event is a few small queries, so serialising it costs little.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Connection

from oncall_agent.domain.alarm import AlarmEvent, AlarmState
from oncall_agent.domain.errors import OncallAgentError, StoreError
from oncall_agent.domain.grouping import GroupingDecision, GroupingOutcome, OpenIncidentView, view_after
from oncall_agent.ports import GroupedEvent, GroupingRule
from oncall_agent.store import events, incidents
from oncall_agent.store.grouping_writes import GroupingWrites

# Fixed and shared by every replica ("oncall" in ASCII, then 2 = grouping; 1 is the migration lock).
GROUPING_LOCK_KEY = 0x6F6E63616C6C02
_NEEDS_INCIDENT = frozenset({GroupingOutcome.JOIN, GroupingOutcome.RECOVER, GroupingOutcome.NOTE})


def group_batch(connection: Connection, rule: GroupingRule, now: datetime, size: int) -> list[GroupedEvent]:
    """Group up to `size` of the oldest ungrouped events inside the caller's transaction; [] when none wait."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(GROUPING_LOCK_KEY)))
    queued = events.next_ungrouped(connection, size)
    if not queued:
        return []
    views = {view.id: view for view in incidents.active_views(connection)}
    writes = GroupingWrites()
    grouped = []
    for event_id, payload in queued:
        result = _group_one(connection, rule, now, (event_id, payload), views, writes)
        writes.mark(event_id, result.decision.incident_id, result.decision.outcome.value)
        grouped.append(result)
    writes.flush(connection)
    return grouped


def _group_one(
    connection: Connection,
    rule: GroupingRule,
    now: datetime,
    queued: tuple[int, dict[str, Any]],
    views: dict[str, OpenIncidentView],
    writes: GroupingWrites,
) -> GroupedEvent:
    event_id, payload = queued
    try:
        event = AlarmEvent.model_validate(payload)
        decision = rule(event, sorted(views.values(), key=lambda view: view.id))
        if decision.outcome in _NEEDS_INCIDENT and decision.incident_id not in views:
            raise StoreError(f"grouping rule chose {decision.incident_id!r}, which is not an active incident")
    except (ValidationError, OncallAgentError, ValueError, KeyError, TypeError) as exc:
        # One bad event must not stall every event behind it: it stays stored, marked, for a person to look at.
        quarantined = GroupingDecision(GroupingOutcome.QUARANTINED, None, "", "")
        detail = f"{type(exc).__name__}: {exc}"
        return GroupedEvent(event_id, str(payload.get("alarm_name", "?")), quarantined, detail)
    if decision.outcome is GroupingOutcome.CREATE:
        created = incidents.create_incident(
            connection, event, service=decision.service, fingerprint=decision.fingerprint, now=now
        )
        writes.note(created, event.state_timestamp, "alarm", f"alarm {event.alarm_name} ALARM", _data(event_id, event))
        views.update((view.id, view) for view in incidents.active_views(connection, created))
        return GroupedEvent(event_id, event.alarm_name, replace(decision, incident_id=created))
    incident_id = decision.incident_id
    if incident_id is not None and decision.outcome in _NEEDS_INCIDENT:
        views[incident_id] = view_after(views[incident_id], event, decision.outcome)
        _record(writes, views[incident_id], event, event_id, decision.outcome, now)
    return GroupedEvent(event_id, event.alarm_name, decision)  # STALE, RECORD: against the event only


def _data(event_id: int, event: AlarmEvent) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "alarm_arn": event.alarm_arn,
        "alarm_name": event.alarm_name,
        "state": event.new_state.value,
        "reason": event.reason,
    }


def _record(
    writes: GroupingWrites,
    after: OpenIncidentView,
    event: AlarmEvent,
    event_id: int,
    outcome: GroupingOutcome,
    now: datetime,
) -> None:
    """What a JOIN, RECOVER or NOTE writes for the incident whose view is now `after`."""
    incident_id, at, data = after.id, event.state_timestamp, _data(event_id, event)
    if outcome is GroupingOutcome.JOIN:
        writes.alarm_state(incident_id, event)
        writes.touch(incident_id, now, alarm_at=at)
        writes.note(incident_id, at, "alarm", f"alarm {event.alarm_name} ALARM", data)
    elif outcome is GroupingOutcome.RECOVER:
        # Recovery is recorded, never acted on: resolving is the investigation's verify step.
        writes.alarm_state(incident_id, event)
        writes.touch(incident_id, now)
        writes.note(incident_id, at, "recovery", f"alarm {event.alarm_name} recovered", data)
        if all(state is not AlarmState.ALARM for state, _ in after.alarm_states.values()):
            writes.note(incident_id, at, "all_recovered", "all alarms recovered", {})
    else:  # NOTE: e.g. INSUFFICIENT_DATA, worth a line in the timeline but no state change
        writes.touch(incident_id, now)
        writes.note(incident_id, at, "alarm_state", f"alarm {event.alarm_name} {event.new_state.value}", data)
