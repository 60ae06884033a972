"""The sections of a scenario file (SCENARIOS.md) as strict pydantic models.

Every model forbids unknown fields and is frozen. Rules about one item live here (a ramp ends after it starts,
a change request has a start); rules across sections live in `scenario`; field types in `scenario_types`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from oncall_agent.sandbox.scenario_resources import Points, points_problem
from oncall_agent.sandbox.scenario_types import (
    SERIES_WINDOW,
    ActionKind,
    AlarmStateName,
    Category,
    Comparison,
    IdText,
    LambdaVersion,
    NonEmpty,
    Period,
    RelTime,
    RepoName,
    Sha,
    Statistic,
    Strict,
    TaskDefinition,
    Template,
    TimedText,
    split_task_definition,
)


class _MetricBase(Strict):
    namespace: NonEmpty
    name: NonEmpty
    dimensions: dict[str, IdText] = Field(default_factory=dict)


class MetricRef(_MetricBase):
    """A metric named by another alarm (`other_alarms`): statistic and period may be left out."""

    stat: Statistic | None = None
    period: Period | None = None


class MetricQuery(_MetricBase):
    """A metric with the statistic and period an alarm evaluates or a series is generated at."""

    stat: Statistic
    period: Period


class AlarmSpec(Strict):
    name: NonEmpty
    service: NonEmpty
    metric: MetricQuery
    threshold: float
    comparison: Comparison
    evaluation_periods: int = Field(ge=1)
    fires_at: RelTime = timedelta(0)
    description: str | None = None


class MetricChange(Strict):
    """A step (`to`) or a ramp (`ramp_to`, optionally `until`, default now) starting at `at`."""

    at: RelTime
    to: float | None = None
    ramp_to: float | None = None
    until: RelTime | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> MetricChange:
        if (self.to is None) == (self.ramp_to is None):
            raise PydanticCustomError(
                "change_kind", "a change needs exactly one of 'to' (a step) or 'ramp_to' (a ramp)"
            )
        if self.until is not None and self.ramp_to is None:
            raise PydanticCustomError("change_kind", "'until' applies only to a ramp ('ramp_to')")
        if self.ramp_to is not None and self.ramp_end <= self.at:
            raise PydanticCustomError("change_order", "the ramp must end ('until', default 0m) after it starts ('at')")
        return self

    @property
    def ramp_end(self) -> timedelta:
        return timedelta(0) if self.until is None else self.until


class MetricSeries(Strict):
    """Generated (`baseline`, `noise`, `changes`) or recorded (`points`, format 2): exactly one of the two."""

    metric: MetricQuery
    baseline: float | None = None
    noise: float = Field(default=0.0, ge=0)
    changes: list[MetricChange] = Field(default_factory=list)
    points: Points | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> MetricSeries:
        if self.points is None:
            if self.baseline is None:
                raise PydanticCustomError(
                    "series_kind", "a series needs 'baseline' (generated) or 'points' (recorded values)"
                )
            return self
        given = [name for name in ("baseline", "noise", "changes") if name in self.model_fields_set]
        if given:
            raise PydanticCustomError(
                "series_kind",
                "'points' excludes {fields} (recorded values are not generated)",
                {"fields": ", ".join(given)},
            )
        problem = points_problem(self.points, self.metric.period)
        if problem:
            raise PydanticCustomError("points", "{problem}", {"problem": problem})
        return self


MAX_LINES = 200_000
"""At most this many lines per generator."""


class LineGenerator(Strict):
    template: Template
    per_minute: float = Field(gt=0, le=1000)
    from_: RelTime = Field(default=-SERIES_WINDOW, alias="from")
    until: RelTime = Field(default=timedelta(0), validate_default=True)

    @field_validator("until")
    @classmethod
    def _after_from(cls, value: timedelta, info: ValidationInfo) -> timedelta:
        start, rate = info.data.get("from_"), info.data.get("per_minute")
        if start is not None and value <= start:
            raise PydanticCustomError("window", "'until' (default 0m) must be after 'from' (default -3h)")
        if start is not None and rate is not None and rate * (value - start).total_seconds() / 60 > MAX_LINES:
            # A typo like `from: -30d` at 500 a minute would seed millions of lines and take minutes.
            raise PydanticCustomError(
                "window", "this generator would write more than {most} lines", {"most": MAX_LINES}
            )
        return value


class RawLine(Strict):
    at: RelTime
    message: Template


class LogGroupSpec(Strict):
    group: str = Field(pattern=r"^[.\-_/#A-Za-z0-9]{1,512}$")
    stream: str | None = Field(default=None, pattern=r"^[^:*]{1,512}$")
    lines: list[LineGenerator] = Field(default_factory=list)
    raw: list[RawLine] = Field(default_factory=list)


class _DeployBase(Strict):
    at: RelTime
    actor: str | None = None


class EcsDeploy(_DeployBase):
    kind: Literal["ecs"]
    service: NonEmpty
    task_definition: TaskDefinition
    previous: TaskDefinition | None = None
    image: str | None = None

    @field_validator("previous")
    @classmethod
    def _same_family(cls, value: str | None, info: ValidationInfo) -> str | None:
        current = info.data.get("task_definition")
        if value is not None and current is not None:
            if split_task_definition(value)[0] != split_task_definition(current)[0]:
                raise PydanticCustomError("family", "'previous' must be a revision of the same family")
            if value == current:
                raise PydanticCustomError("family", "'previous' must differ from 'task_definition'")
        return value


class LambdaDeploy(_DeployBase):
    kind: Literal["lambda"]
    function: NonEmpty
    alias: str | None = None
    version: LambdaVersion
    previous: LambdaVersion | None = None


class CodeDeployDeploy(_DeployBase):
    kind: Literal["codedeploy"]
    application: NonEmpty
    group: NonEmpty
    deployment_id: NonEmpty
    revision: IdText | None = None


Deploy = Annotated[EcsDeploy | LambdaDeploy | CodeDeployDeploy, Field(discriminator="kind")]


class Commit(Strict):
    repo: RepoName
    sha: Sha
    at: RelTime
    message: NonEmpty
    author: NonEmpty = "octocat"
    pr: int | None = Field(default=None, ge=1)


class CloudTrailChange(Strict):
    at: RelTime
    source: str = Field(pattern=r"^[a-z0-9.-]+\.amazonaws\.com$")
    name: str = Field(pattern=r"^[A-Z][A-Za-z0-9]+$")
    resource: str | None = None
    actor: str | None = None
    id: str | None = Field(default=None, min_length=1)
    parameters: dict[str, Any] = Field(default_factory=dict)


class OtherAlarm(Strict):
    name: NonEmpty
    service: str | None = None
    state: AlarmStateName
    since: RelTime = -SERIES_WINDOW
    metric: MetricRef


class ServiceNowTicket(Strict):
    system: Literal["servicenow"]
    table: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    number: NonEmpty
    short_description: TimedText
    ci: str | None = None
    state: str | None = None
    opened: RelTime | None = Field(default=None, validate_default=True)
    start: RelTime | None = Field(default=None, validate_default=True)
    end: RelTime | None = None

    @field_validator("opened", "start")
    @classmethod
    def _needed(cls, value: timedelta | None, info: ValidationInfo) -> timedelta | None:
        needs = {"opened": ("incident", "problem"), "start": ("change_request",)}[str(info.field_name)]
        if value is None and info.data.get("table") in needs:
            raise PydanticCustomError(
                "missing_for_table",
                "a {table} needs '{field}'",
                {"table": info.data["table"], "field": info.field_name},
            )
        return value

    @field_validator("end")
    @classmethod
    def _after_start(cls, value: timedelta | None, info: ValidationInfo) -> timedelta | None:
        start = info.data.get("start")
        if value is not None and start is not None and value <= start:
            raise PydanticCustomError("window", "'end' must be after 'start'")
        return value


class GitHubTicket(Strict):
    system: Literal["github"]
    repo: RepoName
    number: int = Field(ge=1)
    title: TimedText
    opened: RelTime
    labels: list[str] = Field(default_factory=list)


Ticket = Annotated[ServiceNowTicket | GitHubTicket, Field(discriminator="system")]


class PastIncident(Strict):
    opened: RelTime
    service: NonEmpty
    title: NonEmpty
    category: Category
    culprit: IdText | None = None
    resolution: str | None = None


class Truth(Strict):
    """`also` (format 2): further categories an engineer would accept for the same culprit."""

    category: Category
    also: list[Category] = Field(default_factory=list)  # format 2: another category an engineer would accept
    culprit: IdText | None = None
    accept: list[IdText] = Field(default_factory=list)
    actions: list[ActionKind] = Field(default_factory=list)
    forbid: list[ActionKind] = Field(default_factory=list)
