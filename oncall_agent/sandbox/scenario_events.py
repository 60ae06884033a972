"""Format-2 `events`: AWS's own event feeds, each served through the API that serves it on AWS.

`rds` -> RDS DescribeEvents, `health` -> AWS Health DescribeEvents / DescribeAffectedEntities, `ecs` -> the
service's `events` (DescribeServices), `ecs_task` -> a stopped task (ListTasks STOPPED + DescribeTasks).
`at` is when the event started. The `source` field picks the model, like `kind` for deploys.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from oncall_agent.sandbox.scenario_types import IdText, NonEmpty, RelTime, Strict, TimedText

# RDS event categories as RDS lists them (DescribeEventCategories), and its source types.
RDS_CATEGORIES = (
    "availability",
    "backtrack",
    "backup",
    "configuration change",
    "creation",
    "deletion",
    "failover",
    "failure",
    "global-failover",
    "low storage",
    "maintenance",
    "notification",
    "read replica",
    "recovery",
    "restoration",
    "security",
    "security patching",
    "serverless",
)
RDS_SOURCE_TYPES = (
    "db-instance",
    "db-cluster",
    "db-parameter-group",
    "db-cluster-parameter-group",
    "db-security-group",
    "db-snapshot",
    "db-cluster-snapshot",
    "db-proxy",
    "custom-engine-version",
    "blue-green-deployment",
)
HealthCategory = Literal["issue", "scheduledChange", "accountNotification", "investigation"]
HealthStatus = Literal["open", "closed", "upcoming"]


class RdsEvent(Strict):
    source: Literal["rds"]
    at: RelTime
    resource: Annotated[IdText, Field(min_length=1)]
    message: TimedText
    source_type: str = "db-instance"
    categories: list[str] = Field(default_factory=list)

    @field_validator("source_type")
    @classmethod
    def _source_type(cls, value: str) -> str:
        if value not in RDS_SOURCE_TYPES:
            raise PydanticCustomError(
                "rds_event",
                "{got} is not an RDS source type: {known}",
                {"got": repr(value), "known": ", ".join(RDS_SOURCE_TYPES)},
            )
        return value

    @field_validator("categories")
    @classmethod
    def _categories(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in RDS_CATEGORIES]
        if unknown:
            raise PydanticCustomError(
                "rds_event",
                "{got} not among RDS's event categories: {known}",
                {"got": ", ".join(map(repr, unknown)), "known": ", ".join(RDS_CATEGORIES)},
            )
        return value


class HealthEvent(Strict):
    source: Literal["health"]
    at: RelTime
    message: TimedText
    end: RelTime | None = None
    category: HealthCategory = "issue"
    status: HealthStatus | None = None
    availability_zone: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$")
    region: str | None = Field(default=None, pattern=r"^([a-z]{2}(-[a-z]+)+-\d|global)$")
    service: str | None = Field(default=None, pattern=r"^[A-Z0-9_]+$")
    type: str | None = Field(default=None, pattern=r"^AWS_[A-Z0-9_]+$")
    resources: list[Annotated[IdText, Field(min_length=1)]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> HealthEvent:
        if self.service is None and self.type is None:
            raise PydanticCustomError("health_event", "a health event needs 'service' (EC2, RDS, ...) or 'type'")
        if self.end is not None and self.end <= self.at:
            raise PydanticCustomError("window", "'end' must be after 'at'")
        return self

    @property
    def service_name(self) -> str:
        """`service`, or the one `type` names (AWS_EC2_OPERATIONAL_ISSUE -> EC2)."""
        if self.service is not None:
            return self.service
        assert self.type is not None  # checked above
        return self.type.removeprefix("AWS_").split("_", 1)[0]

    @property
    def type_code(self) -> str:
        if self.type is not None:
            return self.type
        suffix = {"issue": "OPERATIONAL_ISSUE", "scheduledChange": "SCHEDULED_CHANGE"}.get(
            self.category, "NOTIFICATION"
        )
        return f"AWS_{self.service_name}_{suffix}"

    def status_code(self, ended_before_now: bool) -> str:
        """`status`, or what Health reports: closed once ended, upcoming before it starts, else open."""
        if self.status is not None:
            return self.status
        if self.at > timedelta(0):
            return "upcoming"
        return "closed" if ended_before_now else "open"


class EcsServiceEvent(Strict):
    source: Literal["ecs"]
    at: RelTime
    resource: NonEmpty
    message: TimedText
    cluster: str | None = None


class EcsStoppedTask(Strict):
    source: Literal["ecs_task"]
    at: RelTime
    resource: NonEmpty
    stopped_reason: TimedText
    exit_code: int | None = None
    task_definition: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,255}:\d+$")
    availability_zone: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$")
    cluster: str | None = None


Event = Annotated[RdsEvent | HealthEvent | EcsServiceEvent | EcsStoppedTask, Field(discriminator="source")]
