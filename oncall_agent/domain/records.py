"""What evidence sources return, before correlation turns it into Evidence: plain facts in domain terms.

Adapters produce these from vendor APIs (CloudWatch, Logs Insights, CloudTrail, ECS, GitHub, ServiceNow);
the investigation never sees a vendor type. Everything here is untrusted text from the outside world.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

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


CHANGE_BODY_MAX = 2000  # a description long enough to say what changed, short enough for a prompt
CHANGE_FILES_MAX = 50
_PULL_REF = re.compile(r"#?(\d{1,6})")  # `#123` or `123`; seven digits and more read as an abbreviated sha
_SHA_REF = re.compile(r"[0-9a-fA-F]{7,40}")


class ChangedFile(Frozen):
    filename: str
    status: str  # added | removed | modified | renamed | copied | changed | unchanged
    additions: int = 0
    deletions: int = 0


class ChangeSummary(Frozen):
    """What one commit or pull request of a repository changed, as GitHub reports it. `ref` is the commit's
    full sha or the pull's `#number`; `at` when it landed (committed, merged; a pull not merged: opened);
    `additions`/`deletions`/`changed_files` are GitHub's totals, `files` at most CHANGE_FILES_MAX of them."""

    kind: Literal["commit", "pull"]
    repo: str
    ref: str
    title: str
    body: str = Field(default="", max_length=CHANGE_BODY_MAX)
    author: str | None = None
    at: datetime | None = None
    url: str | None = None
    state: str | None = None  # a pull's: open, closed or merged
    additions: int = 0
    deletions: int = 0
    changed_files: int = 0
    files: list[ChangedFile] = Field(default_factory=list, max_length=CHANGE_FILES_MAX)
    merge_commit_sha: str | None = None


def change_ref(ref: str) -> tuple[Literal["commit", "pull"], str]:
    """A change reference as people write it: a pull request (`#123`, `123`) or a commit sha (full or at least
    7 hex characters, lower-cased). A bare number of seven digits or more is a sha: pull numbers that large are
    rarer than abbreviated shas made of digits only. Raises ValueError for anything else."""
    text = ref.strip()
    if pull := _PULL_REF.fullmatch(text):
        return "pull", pull.group(1)
    if _SHA_REF.fullmatch(text):
        return "commit", text.lower()
    raise ValueError(f"not a commit sha (7 to 40 hex) or a pull request (#123): {ref[:60]!r}")


class AlarmSnapshot(Frozen):
    """An alarm's current state, for related alarms and for verifying recovery."""

    name: str
    arn: str
    state: AlarmState
    since: datetime
    metric: MetricSpec | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    description: str = ""  # AlarmDescription, untrusted text (cut to 1024 characters, as CloudWatch allows)


class MetricQuery(Frozen):
    """One series of a batched read: a metric at a statistic and period."""

    metric: MetricSpec
    stat: str
    period: int = 60


class MetricBatch(Frozen):
    """What one batched read returned: a series per query that answered (in query order, empty points when
    there was no data), and the queries whose status was an error (`failed`: query index -> message)."""

    series: list[MetricSeries] = Field(default_factory=list)
    failed: dict[int, str] = Field(default_factory=dict)


class MetricListing(Frozen):
    """Metrics ListMetrics reported (namespace, name, dimensions; no data); `truncated` when pages were left."""

    metrics: list[MetricSpec] = Field(default_factory=list)
    truncated: bool = False


class AwsEventSource(StrEnum):
    RDS = "rds"  # RDS DescribeEvents
    HEALTH = "health"  # AWS Health DescribeEvents / DescribeAffectedEntities
    ECS = "ecs"  # an ECS service's `events` (DescribeServices)
    ECS_TASK = "ecs_task"  # a stopped ECS task (ListTasks STOPPED + DescribeTasks)


class AwsEventRecord(Frozen):
    """An event from one of AWS's own feeds. `resource` is the resource it is about as CloudWatch names it (DB
    identifier, ECS service name, an affected entity value); `resources` every affected entity (Health).
    `details` holds the feed's own fields: RDS `source_type`, `categories`; Health `service`, `type`,
    `category`, `status`, `region`, `availability_zone`, `end`; ECS task `stopped_reason`, `exit_codes`,
    `task_definition`, `availability_zone`, `task`."""

    source: AwsEventSource
    at: datetime
    resource: str
    message: str
    resources: list[str] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)
    link: str | None = None
