"""Incidents and their lifecycle. Status transitions are pure functions; the store persists their results."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from oncall_agent.domain.alarm import AlarmState
from oncall_agent.domain.errors import InvalidTransition
from oncall_agent.domain.evidence import Category


class IncidentStatus(StrEnum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    AWAITING_APPROVAL = "awaiting_approval"
    MITIGATING = "mitigating"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    ESCALATED = "escalated"
    CLOSED = "closed"


S = IncidentStatus
ALLOWED_TRANSITIONS: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    S.OPEN: frozenset({S.INVESTIGATING, S.ESCALATED, S.RESOLVED, S.CLOSED}),
    S.INVESTIGATING: frozenset({S.AWAITING_APPROVAL, S.MITIGATING, S.MONITORING, S.ESCALATED, S.RESOLVED}),
    S.AWAITING_APPROVAL: frozenset({S.MITIGATING, S.ESCALATED, S.RESOLVED, S.INVESTIGATING}),
    S.MITIGATING: frozenset({S.MONITORING, S.ESCALATED, S.RESOLVED, S.AWAITING_APPROVAL}),
    S.MONITORING: frozenset({S.RESOLVED, S.ESCALATED, S.INVESTIGATING, S.AWAITING_APPROVAL}),
    S.ESCALATED: frozenset({S.INVESTIGATING, S.AWAITING_APPROVAL, S.MITIGATING, S.RESOLVED, S.CLOSED}),
    S.RESOLVED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
}
ACTIVE_STATUSES = frozenset(set(IncidentStatus) - {S.RESOLVED, S.CLOSED})


def transition(current: IncidentStatus, target: IncidentStatus) -> IncidentStatus:
    """Return `target` if the lifecycle allows moving there from `current`, else raise InvalidTransition."""
    if target == current:
        return current
    if target not in ALLOWED_TRANSITIONS[current]:
        raise InvalidTransition(f"incident cannot go from {current.value} to {target.value}")
    return target


def is_active(status: IncidentStatus) -> bool:
    """Active incidents absorb new alarm events; resolved and closed ones never do."""
    return status in ACTIVE_STATUSES


class TimelineEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: datetime
    kind: str
    message: str
    data: dict[str, Any] = Field(default_factory=dict)


class IncidentAlarm(BaseModel):
    """An alarm that belongs to an incident, with the latest state the incident has seen for it."""

    model_config = ConfigDict(frozen=True)

    alarm_arn: str
    alarm_name: str
    state: AlarmState
    state_timestamp: datetime


class Resolution(BaseModel):
    """How an incident ended: what caused it and what fixed it (the memory later incidents are compared with)."""

    model_config = ConfigDict(frozen=True)

    category: Category
    culprit: str | None = None
    summary: str | None = None


class Incident(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    fingerprint: str
    service: str
    status: IncidentStatus
    severity: str = "unknown"
    first_event_at: datetime
    last_event_at: datetime
    alarms: list[IncidentAlarm] = Field(default_factory=list)
    links: dict[str, str] = Field(default_factory=dict)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    title: str | None = None
    resolution: Resolution | None = None
