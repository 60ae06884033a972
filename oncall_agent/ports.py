"""Capabilities the core needs from the outside world, as Protocols over domain types only.

Adapters (`oncall_agent.adapters`) implement the vendor-facing ones; `oncall_agent.store` implements
IncidentStore. Every method may raise SourceError (or any exception: callers turn failures into `gap`
evidence); write methods are idempotent by the key or marker they are given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from oncall_agent.domain.action import ProposedAction
from oncall_agent.domain.alarm import AlarmEvent, MetricSpec
from oncall_agent.domain.catalog import Service
from oncall_agent.domain.grouping import GroupingDecision, OpenIncidentView
from oncall_agent.domain.incident import Incident, IncidentStatus
from oncall_agent.domain.reasoning import ReasoningReply
from oncall_agent.domain.records import (
    AlarmSnapshot,
    AwsEventRecord,
    ChangeRecord,
    ChangeSummary,
    DeployRecord,
    LogSample,
    MetricBatch,
    MetricListing,
    MetricQuery,
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

    def pending_events(self, limit: int = 100) -> list[AlarmEvent]:
        """The oldest ungrouped events that still parse, in arrival order: a plain read, no lock, no claim
        (what grouping will look at next, for checks that must not run inside its transaction)."""
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


class MetricBatchReader(MetricReader, Protocol):
    """The metric reader's wide side, for the neighbourhood: many series at once, and what metrics exist."""

    def get_many(self, region: str, queries: list[MetricQuery], start: datetime, end: datetime) -> MetricBatch:
        """Every query's series through batched GetMetricData (at most 500 queries per request); a query whose
        status is an error is reported in `failed`, not raised."""
        ...

    def list_metrics(self, region: str, namespace: str, max_pages: int) -> MetricListing:
        """The metrics of `namespace` active in the last three hours (ListMetrics), at most `max_pages` pages."""
        ...


class TopologyReader(Protocol):
    """The links AWS itself reports between resources. Identifiers are ARNs unless said otherwise."""

    def ecs_target_groups(self, region: str, cluster: str, service: str) -> list[str]:
        """Target group ARNs registered on the ECS service (DescribeServices `loadBalancers`)."""
        ...

    def load_balancers(self, region: str, target_groups: list[str]) -> dict[str, list[str]]:
        """Target group ARN -> the ARNs of the load balancers that route to it (DescribeTargetGroups)."""
        ...

    def web_acl(self, region: str, resource_arn: str) -> str | None:
        """The ARN of the regional WAF web ACL associated with a load balancer or API stage, if any."""
        ...

    def lambda_links(self, region: str, function: str) -> list[tuple[str, str]]:
        """(`source` | `destination`, ARN): a Lambda function's event sources and asynchronous destinations."""
        ...

    def proxy_targets(self, region: str, proxy: str) -> list[tuple[str, str]]:
        """(CloudFormation type, identifier) of each DB instance or cluster behind an RDS proxy."""
        ...

    def tagged(
        self, region: str, key: str, values: list[str], agree: Mapping[str, Mapping[str, str]] | None = None
    ) -> dict[str, list[str]]:
        """Tag value -> ARNs of the resources tagged `key=value` (Resource Groups Tagging API). `agree`: per value,
        tags a resource must not contradict (one tagged `env=staging` is not the prod service's); a resource
        without such a tag is kept."""
        ...

    def attributes(self, region: str, resource_type: str, resource_id: str) -> dict[str, Any]:
        """What the resource's describe call reports that a golden signal's limit depends on (`max_connections`,
        `write_capacity`, `timeout_ms`, `message_retention_period`, ...); {} for types without any."""
        ...


class AwsEventFeed(Protocol):
    """AWS's own event feeds for a time window."""

    def rds_events(self, region: str, start: datetime, end: datetime) -> list[AwsEventRecord]: ...

    def health_events(self, region: str, start: datetime, end: datetime) -> list[AwsEventRecord]:
        """Health events in `region` (or global) open during the window, with their affected entities."""
        ...

    def ecs_events(
        self, region: str, cluster: str, service: str, start: datetime, end: datetime
    ) -> list[AwsEventRecord]:
        """The service's own events and its tasks stopped in the window (stopped reason, exit codes)."""
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

    def escalate(self, ref: TicketRef, assignment_group: str | None, impact: int, urgency: int) -> TicketRef:
        """Assign the incident to the group (None: leave it), set impact/urgency (1 high .. 3 low), In Progress."""
        ...

    def set_description_line(self, ref: TicketRef, prefix: str, line: str) -> None:
        """Replace the description's line that starts with `prefix` by `line` (appended when there is none);
        no write when the description already holds it."""
        ...


@dataclass(frozen=True)
class ChangeStatus:
    """A change request as its approvers left it: `approval` (requested, approved, rejected, ...), `state` (the
    Table API value: -5 New ... 3 Closed, 4 Canceled), who last updated it and when (ServiceNow's own words)."""

    system_id: str
    number: str
    approval: str
    state: str
    updated_by: str
    updated_on: str


@runtime_checkable
class ChangeTracker(Protocol):
    """ServiceNow change requests that approve (or reject) one proposed action."""

    def ensure_change(
        self, correlation_id: str, short_description: str, description: str, parent: str | None
    ) -> TicketRef:
        """Find the change whose correlation_id is `correlation_id`, or open a normal change (never two)."""
        ...

    def change_status(self, system_id: str) -> ChangeStatus: ...


class IssueTracker(Protocol):
    """GitHub: commits and issues to read, one issue per agent incident to keep up to date."""

    def commits(self, repo: str, start: datetime, end: datetime) -> list[DeployRecord]: ...

    def deployments(self, repo: str, start: datetime, end: datetime) -> list[DeployRecord]: ...

    def search_issues(self, repo: str, text: str) -> list[TicketRecord]: ...

    def change_summary(self, repo: str, ref: str) -> ChangeSummary | None:
        """What a commit (`ref` a sha, full or at least 7 hex) or pull request (`#123` or `123`) of `repo`
        changed: title, body, author, files; None when the repository has no such commit or pull. A `ref` that
        is neither raises ValueError."""
        ...

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

    def assign(self, repo: str, number: int, assignees: list[str]) -> None:
        """Add `assignees` to the issue (those already assigned stay)."""
        ...

    def set_body_line(self, repo: str, number: int, prefix: str, line: str) -> None:
        """Replace the body's line that starts with `prefix` by `line` (appended when there is none); no write
        when the body already holds it."""
        ...


class Pager(Protocol):
    """Pages people (an SNS topic that paging services subscribe to)."""

    def page(self, subject: str, message: Mapping[str, Any], key: str) -> str:
        """Send the page; returns the message id. `key` lets receivers deduplicate a retried page."""
        ...


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


class LeaseStore(Protocol):
    """Named leader leases shared by every replica (implemented by `oncall_agent.store.leases`)."""

    def acquire(self, name: str, holder: str, ttl: timedelta) -> datetime | None:
        """Take or renew `name` for `holder` until now + ttl (atomically); the expiry, or None if held by another."""
        ...

    def release(self, name: str, holder: str) -> bool:
        """End `holder`'s lease now; False when it did not hold it."""
        ...


class RateLimiter(Protocol):
    """Rate buckets shared by every replica (implemented by `oncall_agent.store.rate_limits`)."""

    def reserve(self, name: str, per_second: float, burst: float = 1.0) -> float:
        """Reserve one call on bucket `name`; the seconds to wait before making it."""
        ...


class Reasoner(Protocol):
    """Reasons over an investigation's evidence with a language model and returns its structured answer.

    `system` and `prompt` are the rendered prompt (evidence inside it is quoted, untrusted data). Raises
    ReasoningFailed (throttled, timeout, access denied, model not enabled, invalid
    output); the caller keeps the deterministic result and records the failure as a gap.
    """

    def reason(self, system: str, prompt: str) -> ReasoningReply: ...
