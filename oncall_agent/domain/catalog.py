"""The service catalog (SCENARIOS.md `services`) and the rule that maps an alarm to the service it is about."""

from __future__ import annotations

import fnmatch

from pydantic import BaseModel, ConfigDict, Field

from oncall_agent.domain.alarm import AlarmEvent


class EcsTarget(BaseModel):
    """`target_groups`: as ECS reports them on the service (DescribeServices `loadBalancers`), when the catalog
    declares them; the agent also reads them from AWS."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    cluster: str
    service: str
    target_groups: list[str] = Field(default_factory=list)


class ResourceRef(BaseModel):
    """An AWS resource the catalog declares for a service: its CloudFormation type name and the identifier AWS
    reports and CloudWatch uses as the dimension value (`app/name/hash`, `orders-db`, a queue name, ...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str = Field(pattern=r"^AWS::[A-Za-z0-9]+::[A-Za-z0-9]+$")
    id: str = Field(min_length=1)


class LambdaTarget(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    function: str
    alias: str | None = None


class CodeDeployTarget(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    application: str
    group: str


class Service(BaseModel):
    """One service the agent watches. `alarm_patterns` (globs on alarm names) is optional: without it the
    alarm's `service` tag, its ECS/Lambda dimensions or a `<service>-` name prefix identify the service."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    ecs: EcsTarget | None = None
    lambda_: LambdaTarget | None = Field(default=None, alias="lambda")
    codedeploy: CodeDeployTarget | None = None
    log_groups: list[str] = Field(default_factory=list)
    repo: str | None = None
    servicenow_ci: str | None = None
    depends_on: list[str] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    resources: list[ResourceRef] = Field(default_factory=list)
    alarm_patterns: list[str] = Field(default_factory=list)
    account: str | None = None
    region: str | None = None


def _by_dimensions(service: Service, dimensions: dict[str, str]) -> bool:
    if service.ecs and dimensions.get("ServiceName") == service.ecs.service:
        return dimensions.get("ClusterName", service.ecs.cluster) == service.ecs.cluster
    return bool(service.lambda_ and dimensions.get("FunctionName") == service.lambda_.function)


def _by_declared_resource(service: Service, dimensions: dict[str, str]) -> bool:
    """The alarm watches a resource the catalog declares for the service (its queue, its table, its target
    group): a dimension value is that resource's id."""
    declared = {r.id for r in service.resources} | set(service.ecs.target_groups if service.ecs else [])
    return bool(declared & set(dimensions.values()))


def service_for_alarm(event: AlarmEvent, catalog: list[Service]) -> str | None:
    """Name the catalog service an alarm belongs to, or None. Most specific evidence first."""
    by_name = {service.name: service for service in catalog}
    tagged = event.tags.get("service")
    if tagged in by_name:
        return tagged
    for service in catalog:
        if any(fnmatch.fnmatchcase(event.alarm_name, pattern) for pattern in service.alarm_patterns):
            return service.name
    metrics = [event.metric, *event.metrics] if event.metric else event.metrics
    for service in catalog:
        if any(m is not None and _by_dimensions(service, m.dimensions) for m in metrics):
            return service.name
    for service in catalog:
        if any(m is not None and _by_declared_resource(service, m.dimensions) for m in metrics):
            return service.name
    prefixed = [s.name for s in catalog if event.alarm_name.startswith(f"{s.name}-")]
    return max(prefixed, key=len) if prefixed else None
