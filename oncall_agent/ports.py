"""Capabilities the core needs from the outside world, as Protocols over domain types only.

Adapters (`oncall_agent.adapters`) implement the vendor-facing ones; `oncall_agent.store` implements
IncidentStore. Every method may raise SourceError (or any exception: callers turn failures into `gap`
evidence); write methods are idempotent by the key or marker they are given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from oncall_agent.domain.action import ProposedAction
from oncall_agent.domain.alarm import AlarmEvent, MetricSpec
from oncall_agent.domain.catalog import Service
from oncall_agent.domain.grouping import GroupingDecision, OpenIncidentView
from oncall_agent.domain.incident import Incident, IncidentStatus
from oncall_agent.domain.records import (
    AlarmSnapshot,
    ChangeRecord,
    DeployRecord,
    LogSample,
    MetricSeries,
    TicketRecord,
)


class Clock(Protocol):
    def now(self) -> datetime: ...


class AlarmSource(Protocol):
    """Reads alarms as DescribeAlarms returns them (raw API items: plain, untrusted data)."""

    def describe_alarms(self, region: str) -> Iterable[dict[str, Any]]:
        """Every metric and composite alarm in `region`, all pages. Composite items carry `AlarmRule`."""
        ...


class AlarmStates(Protocol):
    """Current alarm states (related alarms during an investigation; recovery during verification)."""

    def snapshots(self, region: str, names: list[str] | None = None) -> list[AlarmSnapshot]: ...


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


# --- investigation: evidence sources ------------------------------------------------------------------------


class MetricReader(Protocol):
    def get_series(
        self, region: str, metric: MetricSpec, stat: str, period: int, start: datetime, end: datetime
    ) -> MetricSeries:
        """One metric at exactly the statistic the alarm uses (p99 included), one point per period."""
        ...


class LogSearch(Protocol):
    def sample(
        self,
        region: str,
        log_groups: list[str],
        start: datetime,
        end: datetime,
        limit: int,
        max_bytes: float | None = None,
    ) -> LogSample:
        """A bounded sample (at most `limit` lines) of the groups' lines between start and end; a query that
        scans more than `max_bytes` is stopped and raises SourceError."""
        ...


class DeployHistory(Protocol):
    def deploys(self, region: str, service: Service, start: datetime, end: datetime) -> list[DeployRecord]:
        """What changed in what the service runs (ECS task definitions, Lambda aliases, CodeDeploy)."""
        ...


class ChangeHistory(Protocol):
    def changes(self, region: str, start: datetime, end: datetime) -> list[ChangeRecord]:
        """Configuration writes (CloudTrail management events that are not read-only) in the window."""
        ...


# --- coordination: tickets and issues -----------------------------------------------------------------------


@dataclass(frozen=True)
class TicketRef:
    system_id: str  # ServiceNow sys_id
    number: str  # INC0010001
    state: str
    link: str | None = None


@dataclass(frozen=True)
class IssueRef:
    number: int
    state: str
    link: str | None = None


class TicketTracker(Protocol):
    """ServiceNow: change requests to read, one incident per agent incident to keep up to date."""

    def change_requests(self, ci: str, start: datetime, end: datetime) -> list[TicketRecord]: ...

    def ensure_incident(
        self, correlation_id: str, short_description: str, description: str, ci: str | None
    ) -> TicketRef:
        """Find the incident whose correlation_id is `correlation_id`, or create it (never two)."""
        ...

    def add_work_note(self, ref: TicketRef, note: str, key: str) -> None:
        """Append a work note once per `key` (a retried call does not add it twice)."""
        ...

    def resolve_incident(self, ref: TicketRef, close_notes: str, close_code: str) -> TicketRef: ...


class IssueTracker(Protocol):
    """GitHub: commits and issues to read, one issue per agent incident to keep up to date."""

    def commits(self, repo: str, start: datetime, end: datetime) -> list[DeployRecord]: ...

    def deployments(self, repo: str, start: datetime, end: datetime) -> list[DeployRecord]: ...

    def search_issues(self, repo: str, text: str) -> list[TicketRecord]: ...

    def recent_issues(self, repo: str, since: datetime) -> list[TicketRecord]:
        """Issues (not pulls) of `repo` updated since `since`, newest first, bounded: the known problems a new
        error signature may match."""
        ...

    def ensure_issue(self, repo: str, marker: str, title: str, body: str, labels: list[str]) -> IssueRef:
        """Find the issue whose body holds `marker` (a hidden HTML comment), or create it (never two)."""
        ...

    def comment(self, repo: str, number: int, body: str, key: str) -> None:
        """Comment once per `key` (the key is embedded as a hidden marker and looked up first)."""
        ...

    def set_labels(self, repo: str, number: int, labels: list[str]) -> None: ...

    def close_issue(self, repo: str, number: int) -> IssueRef: ...


# --- response -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionPlan:
    """What a dry run found: the change the action would make, or why it cannot."""

    feasible: bool
    summary: str
    before: dict[str, Any]
    after: dict[str, Any]


class ActionExecutor(Protocol):
    def kinds(self) -> frozenset[str]: ...

    def plan(self, action: ProposedAction) -> ActionPlan:
        """Dry run: check the target exists and compute the change, touching nothing."""
        ...

    def execute(self, action: ProposedAction, idempotency_key: str) -> dict[str, Any]:
        """Make the change once: a repeat with the same key finds it done and changes nothing."""
        ...
