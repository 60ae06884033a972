"""What the investigation graph needs from the rest of the system, gathered in one object built by bootstrap."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from oncall_agent.domain.catalog import Service
from oncall_agent.ports import (
    ActionExecutor,
    AlarmStates,
    ChangeHistory,
    DeployHistory,
    IncidentStore,
    IssueTracker,
    LogSearch,
    MetricReader,
    TicketTracker,
)
from oncall_agent.response.planner import Policy
from oncall_agent.response.runbooks import Runbook
from oncall_agent.store.actions import SqlActionStore
from oncall_agent.store.investigations import SqlInvestigationStore


class Messenger(Protocol):
    """Turns investigation milestones into outbox items (ServiceNow and GitHub updates)."""

    def opened(self, view: dict[str, Any]) -> list[Any]: ...

    def progress(self, incident_id: str, key: str, text: str) -> list[Any]: ...

    def closed(self, incident_id: str, resolved: bool, text: str) -> list[Any]: ...


@dataclass(frozen=True)
class Limits:
    lookback_minutes: float = 180
    log_lines_limit: int = 5000
    abstain_below: float = 0.5
    verify_timeout_seconds: float = 300
    verify_poll_seconds: float = 10
    action_ttl_minutes: float = 120
    source_timeout_seconds: float = 20
    api_calls_per_source: int | None = 100
    log_scan_bytes: float | None = 10e9


@dataclass(frozen=True)
class Deps:
    store: IncidentStore
    results: SqlInvestigationStore
    actions: SqlActionStore
    catalog: list[Service]
    default_region: str
    runbooks: list[Runbook]
    policy: Policy
    messenger: Messenger
    now: Callable[[], datetime]
    sleep: Callable[[float], None]
    limits: Limits = field(default_factory=Limits)
    metrics: MetricReader | None = None
    logs: LogSearch | None = None
    deploys: DeployHistory | None = None
    changes: ChangeHistory | None = None
    alarms: AlarmStates | None = None
    tickets: TicketTracker | None = None
    issues: IssueTracker | None = None
    executors: dict[str, ActionExecutor] = field(default_factory=dict)

    def service(self, name: str) -> Service:
        """The catalog entry, or a bare service for alarms the catalog does not name."""
        found = next((s for s in self.catalog if s.name == name), None)
        return found or Service(name=re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "unknown")
