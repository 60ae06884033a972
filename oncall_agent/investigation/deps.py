"""What the investigation graph needs from the rest of the system, gathered in one object built by bootstrap."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from opentelemetry import trace
from opentelemetry.trace import Tracer

from oncall_agent.domain.catalog import Service
from oncall_agent.investigation.tracing import TRACER_NAME
from oncall_agent.ports import (
    ActionExecutor,
    AlarmStates,
    AwsEventFeed,
    ChangeHistory,
    DeployHistory,
    IncidentStore,
    IssueTracker,
    LogSearch,
    MetricBatchReader,
    MetricReader,
    Reasoner,
    TicketTracker,
    TopologyReader,
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

    def escalated(
        self, incident_id: str, team: str, severity: Mapping[str, Any] | None, reason: str = ""
    ) -> list[Any]: ...


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
    neighbourhood_tag_key: str = "service"
    list_metrics_pages: int = 1


@dataclass(frozen=True)
class LlmLimits:
    """The reason step's budgets (settings `llm`) and the model's price in USD per million tokens (in, out)."""

    model_id: str = ""
    provider: str = "aws.bedrock"  # gen_ai.provider.name of the spans (GenAI conventions: aws.bedrock, openai)
    deadline_seconds: float = 45
    max_input_tokens: int = 24000
    max_new_hypotheses: int = 3
    max_rounds: int = 1
    max_tool_calls: int = 6
    evidence_items: int = 60
    evidence_chars: int = 400
    price_per_million: tuple[float, float] | None = None


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
    metric_batches: MetricBatchReader | None = None  # the neighbourhood's golden signals and ListMetrics
    topology: TopologyReader | None = None
    aws_events: AwsEventFeed | None = None
    executors: dict[str, ActionExecutor] = field(default_factory=dict)
    # The OpenTelemetry API's no-op tracer unless bootstrap hands over one from the configured provider.
    tracer: Tracer = field(default_factory=lambda: trace.get_tracer(TRACER_NAME))
    reasoner: Reasoner | None = None  # the optional LLM (settings `llm`); None: the reason step passes through
    llm: LlmLimits = field(default_factory=LlmLimits)
    on_reasoned: Callable[[dict[str, Any]], None] = lambda _totals: None  # the reason step's totals (metrics)

    def service(self, name: str) -> Service:
        """The catalog entry, or a bare service for alarms the catalog does not name."""
        found = next((s for s in self.catalog if s.name == name), None)
        return found or Service(name=re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "unknown")
