"""What evidence sources return, before correlation turns it into Evidence: plain facts in domain terms.

Adapters produce these from vendor APIs (CloudWatch, Logs Insights, CloudTrail, ECS, GitHub, ServiceNow);
the investigation never sees a vendor type. Everything here is untrusted text from the outside world.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from oncall_agent.domain.alarm import AlarmState, MetricSpec


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class MetricSeries(Frozen):
    metric: MetricSpec
    stat: str
    period: int
    points: list[tuple[datetime, float]] = Field(default_factory=list)


class LogRecord(Frozen):
    at: datetime
    group: str
    stream: str | None = None
    message: str


class LogSample(Frozen):
    """A bounded sample of log lines from one window; `truncated` when the source had more."""

    records: list[LogRecord] = Field(default_factory=list)
    truncated: bool = False
    bytes_scanned: float = 0.0


class DeployKind(StrEnum):
    ECS = "ecs"
    LAMBDA = "lambda"
    CODEDEPLOY = "codedeploy"
    GITHUB_COMMIT = "github_commit"
    GITHUB_DEPLOYMENT = "github_deployment"


class DeployRecord(Frozen):
    """A change of what runs: `identifier` is what an engineer would name (task definition `family:rev`,
    Lambda `function:version`, CodeDeploy deployment id, commit sha); `previous` what ran before, if known."""

    kind: DeployKind
    service: str | None = None
    target: str  # the ECS service ARN/name, Lambda function, CodeDeploy group, repository
    identifier: str
    previous: str | None = None
    at: datetime
    actor: str | None = None
    source_event_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    link: str | None = None


class ChangeRecord(Frozen):
    """A write to configuration as CloudTrail recorded it."""

    event_id: str
    at: datetime
    name: str
    source: str
    actor: str | None = None
    resources: list[str] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict)
    read_only: bool = False


class TicketRecord(Frozen):
    system: str  # servicenow | github
    kind: str  # change_request | incident | issue
    number: str
    title: str
    state: str | None = None
    ci: str | None = None  # ServiceNow configuration item, or GitHub repo
    opened: datetime | None = None
    start: datetime | None = None
    end: datetime | None = None
    labels: list[str] = Field(default_factory=list)
    link: str | None = None


class AlarmSnapshot(Frozen):
    """An alarm's current state, for related alarms and for verifying recovery."""

    name: str
    arn: str
    state: AlarmState
    since: datetime
    metric: MetricSpec | None = None
    tags: dict[str, str] = Field(default_factory=dict)
