"""Grouping rules: which incident an alarm event belongs to. Pure: the store supplies the open incidents.

- ALARM for an alarm already in an active incident joins it.
- ALARM for another alarm of the same service joins that service's active incident when the event is within
  `window` of the incident's latest alarm event (storm control); otherwise it opens a new incident.
- OK marks the alarm recovered in its active incident; INSUFFICIENT_DATA is noted there.
- A state change older than what the incident already knows for that alarm is stale (delivery out of order):
  recorded, never applied.
- The grouping job may veto a CREATE or JOIN (outcome OUTDATED: recorded, opens nothing): an SNS notification
  about a state change older than the maximum event age that DescribeAlarms does not confirm (intake.old_events).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from oncall_agent.domain.alarm import AlarmEvent, AlarmState


class GroupingOutcome(StrEnum):
    CREATE = "create"
    JOIN = "join"
    RECOVER = "recover"
    NOTE = "note"
    STALE = "stale"
    RECORD = "record"
    OUTDATED = "outdated"  # an old SNS state change DescribeAlarms did not confirm: recorded, opens nothing
    QUARANTINED = "quarantined"  # the event could not be grouped (unreadable payload, rule failure): set aside


@dataclass(frozen=True)
class OpenIncidentView:
    """What grouping needs to know about an active incident."""

    id: str
    service: str
    first_event_at: datetime
    last_event_at: datetime
    alarm_states: dict[str, tuple[AlarmState, datetime]] = field(default_factory=dict)


@dataclass(frozen=True)
class GroupingDecision:
    outcome: GroupingOutcome
    incident_id: str | None
    service: str
    fingerprint: str


def fingerprint_for(event: AlarmEvent, service: str | None) -> str:
    return f"service:{service}" if service else f"alarm:{event.alarm_arn}"


def _holding(event: AlarmEvent, incidents: list[OpenIncidentView]) -> OpenIncidentView | None:
    holders = [i for i in incidents if event.alarm_arn in i.alarm_states]
    return max(holders, key=lambda i: i.last_event_at) if holders else None


def decide(
    event: AlarmEvent, service: str | None, incidents: list[OpenIncidentView], window: timedelta
) -> GroupingDecision:
    """Decide where `event` goes. `incidents` are the active incidents (any service); order does not matter."""
    group = service or f"unmapped:{event.alarm_name}"
    fingerprint = fingerprint_for(event, service)
    holder = _holding(event, incidents)
    if holder is not None:
        _known_state, known_at = holder.alarm_states[event.alarm_arn]
        if event.state_timestamp < known_at:
            return GroupingDecision(GroupingOutcome.STALE, holder.id, holder.service, fingerprint)
        outcome = {
            AlarmState.ALARM: GroupingOutcome.JOIN,
            AlarmState.OK: GroupingOutcome.RECOVER,
            AlarmState.INSUFFICIENT_DATA: GroupingOutcome.NOTE,
        }[event.new_state]
        return GroupingDecision(outcome, holder.id, holder.service, fingerprint)
    if event.new_state is not AlarmState.ALARM:
        return GroupingDecision(GroupingOutcome.RECORD, None, group, fingerprint)
    if service is not None:
        near = [i for i in incidents if i.service == service and abs(event.state_timestamp - i.last_event_at) <= window]
        if near:
            chosen = max(near, key=lambda i: i.last_event_at)
            return GroupingDecision(GroupingOutcome.JOIN, chosen.id, service, fingerprint)
    return GroupingDecision(GroupingOutcome.CREATE, None, group, fingerprint)


def view_after(view: OpenIncidentView, event: AlarmEvent, outcome: GroupingOutcome) -> OpenIncidentView:
    """The incident as grouping sees it after `event` was applied with `outcome` (what the store wrote):
    JOIN and RECOVER record the alarm's state; a joining ALARM widens [first_event_at, last_event_at] to its
    time. Other outcomes leave the view as it was."""
    if outcome not in (GroupingOutcome.JOIN, GroupingOutcome.RECOVER):
        return view
    states = {**view.alarm_states, event.alarm_arn: (event.new_state, event.state_timestamp)}
    first, last = view.first_event_at, view.last_event_at
    if outcome is GroupingOutcome.JOIN:
        first, last = min(first, event.state_timestamp), max(last, event.state_timestamp)
    return OpenIncidentView(view.id, view.service, first, last, states)
