"""One timeline of anomalies around the service: every signal of a neighbouring resource that moved the bad way
(with the hard limit it crossed, if any) and every AWS event (RDS, Health, ECS service events, stopped tasks),
each placed on the neighbourhood by its resource and role, oldest first. `path_causes` reads hypotheses off it.

Neighbour shifts are `metric_shift` evidence of the neighbourhood source (`neighbourhood.evidence` documents
their details: the resource is the entity; `role`, `resource_type`, `owner`, `signal_kind`, `bad` (the shift
went the bad way), the shift's `onset`, `rise_minutes`, and `crossed_limit_at` /
`at_limit_from_start` for a published hard limit). AWS events are `aws_event` evidence (`neighbourhood.feeds`);
`event_class` below says what one means for the resource it names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from oncall_agent.domain.evidence import Evidence, EvidenceKind
from oncall_agent.domain.time import as_utc

SLOW_BURN_MINUTES = 30.0
"""A signal that took at least this long to build up before reaching its limit is a slow burn."""

# What an AWS event says about the resource it names: (feed, pattern on the message / stopped reason /
# categories, class). First match wins; classes: failover | outage | maintenance | storage | connections |
# memory | capacity | unhealthy | image | secrets | crash. Patterns follow the wording of the feeds' own events
# (RDS event messages, ECS service event and stopped-reason texts).
_EVENT_CLASSES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (feed, re.compile(pattern, re.I), cls)
    for feed, pattern, cls in (
        ("rds", r"certificate|\bCA\b|rds-ca-|ssl|tls", "certificate"),
        ("rds", r"failover|promot|reboot|restart", "failover"),
        ("rds", r"storage[- ]full|low storage|storage.*(exhausted|limit)|out of storage", "storage"),
        ("rds", r"max_connections|too many connections|connection limit", "connections"),
        ("rds", r"wraparound|transaction id", "transaction_ids"),
        ("rds", r"out of memory|memory pressure|incompatible-restart", "memory"),
        ("rds", r"maintenance|patch|upgrade|modif", "maintenance"),
        ("rds", r"availability|unavailable|recover|shutdown|stopp|error|impair|fail", "outage"),
        ("health", r"CERTIFICATE|certificate", "certificate"),
        ("health", r"scheduledChange|maintenance|retire|reboot", "maintenance"),
        ("health", r".", "outage"),
        ("ecs_task", r"OutOfMemory|OOM|exit(ed)? code:? ?137|killed due to memory", "memory"),
        ("ecs_task", r"CannotPull|pull image|manifest|ImageNotFound", "image"),
        ("ecs_task", r"ResourceInitializationError|secret|ssm parameter|AccessDenied", "secrets"),
        ("ecs_task", r"health ?check", "unhealthy"),
        ("ecs_task", r"host .*(terminated|retire|impair)|EC2 instance|underlying host|spot", "outage"),
        ("ecs_task", r"exited|exit code|error", "crash"),
        ("ecs", r"unable to place|insufficient|no container instance|capacity", "capacity"),
        ("ecs", r"unhealthy|health check", "unhealthy"),
        ("ecs", r"has stopped \d+ running tasks", "crash"),
    )
)
EVENT_CLASS_KIND = {
    "certificate": "errors",
    "failover": "health",
    "outage": "health",
    "maintenance": "health",
    "storage": "saturation",
    "connections": "saturation",
    "transaction_ids": "saturation",
    "memory": "saturation",
    "capacity": "saturation",
    "unhealthy": "errors",
    "image": "errors",
    "secrets": "errors",
    "crash": "errors",
}


@dataclass(frozen=True)
class Anomaly:
    """Something on the neighbourhood that went wrong at `at`: a signal shift the bad way or an AWS event."""

    at: datetime
    resource: str
    resource_type: str
    role: str
    owner: str
    kind: str  # load | errors | latency | saturation | blocked | health
    evidence_id: str
    what: str  # the metric name or the event class
    limit_at: datetime | None = None  # when a published hard limit was reached
    rise_minutes: float = 0.0
    event: bool = False
    at_limit_now: bool = False  # the series' last point is still at or beyond its limit

    @property
    def slow_burn(self) -> bool:
        return self.limit_at is not None and self.rise_minutes >= SLOW_BURN_MINUTES


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, str) and value:
        try:
            return as_utc(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def is_neighbour_shift(item: Evidence) -> bool:
    return item.kind is EvidenceKind.METRIC_SHIFT and bool(item.details.get("neighbourhood"))


def _shift_anomaly(item: Evidence) -> Anomaly | None:
    """A shift the bad way (from its onset), or a limit reached without a level shift (from the crossing). A
    series at its limit from the first point read has been so all along: not an anomaly of this incident."""
    d = item.details
    limit_at = None if d.get("at_limit_from_start") else _when(d.get("crossed_limit_at"))
    onset = _when(d.get("onset")) if d.get("detected") and d.get("bad") else None
    start = onset or limit_at
    if start is None:
        return None
    return Anomaly(
        at=start,
        resource=str(item.entity),
        resource_type=str(d.get("resource_type") or ""),
        role=str(d.get("role")),
        owner=str(d.get("owner") or ""),
        kind=str(d.get("signal_kind") or "saturation"),
        evidence_id=item.id,
        what=str(d.get("metric") or ""),
        limit_at=limit_at,
        rise_minutes=float(d.get("rise_minutes") or 0.0),
        at_limit_now=limit_at is not None and bool(d.get("at_limit_now")),
    )


def event_class(details: dict[str, Any]) -> str | None:
    """What an AWS event means (see _EVENT_CLASSES), or None for an event that says nothing is wrong."""
    feed = str(details.get("feed") or "")
    if feed == "health" and str(details.get("status") or "").lower() == "upcoming":
        return None
    text = " ".join(
        str(part)
        for part in (
            details.get("message"),
            details.get("stopped_reason"),
            " ".join(map(str, details.get("categories") or [])),
            details.get("category"),
            details.get("type"),
            "exit code 137" if 137 in (details.get("exit_codes") or []) else "",
        )
        if part
    )
    return next((cls for name, pattern, cls in _EVENT_CLASSES if name == feed and pattern.search(text)), None)


def _event_anomaly(item: Evidence, roles: dict[str, tuple[str, str, str]]) -> Anomaly | None:
    cls = event_class(item.details)
    if cls is None or item.at is None:
        return None
    resource = str(item.entity)
    role, owner, rtype = roles.get(resource, ("", "", ""))
    for other in item.details.get("resources") or []:  # a Health event: the first affected entity on our path
        if not role and str(other) in roles:
            resource, (role, owner, rtype) = str(other), roles[str(other)]
    if not role and not item.details.get("resources") and item.details.get("type"):
        resource = str(item.details["type"])  # an AWS event naming no resource at all is named by its type
    return Anomaly(
        at=as_utc(item.at),
        resource=resource,
        resource_type=rtype,
        role=role,
        owner=owner,
        kind=EVENT_CLASS_KIND[cls],
        evidence_id=item.id,
        what=cls,
        event=True,
    )


def path_roles(evidence: list[Evidence]) -> dict[str, tuple[str, str, str]]:
    """resource id -> (role, owner, CloudFormation type) for every resource the neighbourhood walk listed."""
    roles: dict[str, tuple[str, str, str]] = {}
    for item in evidence:
        if item.kind is EvidenceKind.LOOKED_AT:
            for resource in item.details.get("resources") or []:
                if isinstance(resource, dict) and resource.get("id"):
                    roles.setdefault(
                        str(resource["id"]),
                        (str(resource.get("role")), str(resource.get("owner") or ""), str(resource.get("type") or "")),
                    )
    for item in evidence:
        if is_neighbour_shift(item):
            d = item.details
            rid = str(item.entity)
            roles.setdefault(rid, (str(d["role"]), str(d.get("owner") or ""), str(d.get("resource_type") or "")))
    return roles


def read_timeline(evidence: list[Evidence]) -> list[Anomaly]:
    """Every anomaly of the neighbourhood, oldest first (ties: by resource)."""
    roles = path_roles(evidence)
    found: list[Anomaly | None] = []
    for item in evidence:
        if is_neighbour_shift(item):
            found.append(_shift_anomaly(item))
        elif item.kind is EvidenceKind.AWS_EVENT:
            found.append(_event_anomaly(item, roles))
    return sorted((a for a in found if a is not None), key=lambda a: (a.at, a.resource, a.what))
