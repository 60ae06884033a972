"""Capabilities the core needs from the outside world, as Protocols over domain types only.

Adapters (`oncall_agent.adapters`) implement the vendor-facing ones; `oncall_agent.store` implements
IncidentStore. The investigation-side ports (MetricReader, LogSearch, ...) arrive with the investigation graph.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from oncall_agent.domain.alarm import AlarmEvent
from oncall_agent.domain.grouping import GroupingDecision, OpenIncidentView
from oncall_agent.domain.incident import Incident, IncidentStatus


class Clock(Protocol):
    def now(self) -> datetime: ...


class AlarmSource(Protocol):
    """Reads alarms as DescribeAlarms returns them (raw API items: plain, untrusted data)."""

    def describe_alarms(self, region: str) -> Iterable[dict[str, Any]]:
        """Every metric and composite alarm in `region`, all pages. Composite items carry `AlarmRule`."""
        ...


class SubscriptionConfirmer(Protocol):
    """Confirms an SNS subscription through the SNS API (never by fetching a URL from the message)."""

    def confirm_subscription(self, topic_arn: str, token: str) -> None: ...


@dataclass(frozen=True)
class AppendResult:
    event_id: int
    duplicate: bool


@dataclass(frozen=True)
class GroupedEvent:
    event_id: int
    alarm_name: str
    decision: GroupingDecision
    detail: str = ""  # why, for a QUARANTINED event


GroupingRule = Callable[[AlarmEvent, list[OpenIncidentView]], GroupingDecision]


class IncidentStore(Protocol):
    def append_event(self, event: AlarmEvent) -> AppendResult:
        """Persist `event` and its dedup keys in one transaction. A duplicate (any key already known) is not
        stored again; the original's delivery counter is bumped and `duplicate=True` returned.
        Raises TransientStoreError when a retry may succeed."""
        ...

    def group_pending(self, rule: GroupingRule, limit: int = 100) -> list[GroupedEvent]:
        """Apply `rule` to ungrouped events in arrival order, each in its own transaction, and persist
        the decisions (new incidents, joined alarms, recoveries, timeline entries)."""
        ...

    def get_incident(self, incident_id: str) -> Incident | None: ...

    def list_incidents(self, statuses: Iterable[IncidentStatus] | None = None) -> list[Incident]: ...

    def set_status(self, incident_id: str, status: IncidentStatus, note: str) -> Incident:
        """Move an incident through its lifecycle (validated by domain.incident.transition)."""
        ...

    def event_counts(self) -> dict[str, int]:
        """`events`, `duplicates` (deliveries recorded against an existing event), `ungrouped`."""
        ...

    def ping(self) -> None:
        """Raise StoreError unless the database answers and its schema is current."""
        ...
