"""Scenario files (SCENARIOS.md): the `Scenario` model and the strict loader.

`load_scenario(path)` accepts exactly the documented format and raises `ScenarioError` otherwise, listing
every problem as `FILE: FIELD: PROBLEM`, one per line. Checks that span sections (an alarm's service must be
in `services`, names are unique, the truth is consistent) run once every field is valid on its own. Section
models (`scenario_model`) and time helpers (`scenario_types`) are re-exported here.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from pydantic import Field, PrivateAttr, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from oncall_agent.domain.catalog import Service
from oncall_agent.domain.errors import ScenarioError
from oncall_agent.sandbox.scenario_errors import field_path, format_validation_error, read_yaml
from oncall_agent.sandbox.scenario_events import EcsServiceEvent, EcsStoppedTask, Event, HealthEvent, RdsEvent
from oncall_agent.sandbox.scenario_model import (
    AlarmSpec,
    CloudTrailChange,
    CodeDeployDeploy,
    Commit,
    Deploy,
    EcsDeploy,
    GitHubTicket,
    LambdaDeploy,
    LineGenerator,
    LogGroupSpec,
    MetricChange,
    MetricQuery,
    MetricRef,
    MetricSeries,
    OtherAlarm,
    PastIncident,
    RawLine,
    ServiceNowTicket,
    Ticket,
    Truth,
)
from oncall_agent.sandbox.scenario_resources import (
    DB_CLUSTER,
    DB_INSTANCE,
    WEB_ACL,
    PointsFrom,
    ResourceSpec,
    target_group_problem,
)
from oncall_agent.sandbox.scenario_types import (
    SERIES_WINDOW,
    Strict,
    is_extended_statistic,
    parse_relative,
    resolve_time,
    split_task_definition,
)

__all__ = [
    "SERIES_WINDOW",
    "AlarmSpec",
    "CloudTrailChange",
    "CodeDeployDeploy",
    "Commit",
    "Deploy",
    "EcsDeploy",
    "EcsServiceEvent",
    "EcsStoppedTask",
    "Event",
    "GitHubTicket",
    "HealthEvent",
    "LambdaDeploy",
    "LineGenerator",
    "LogGroupSpec",
    "MetricChange",
    "MetricQuery",
    "MetricRef",
    "MetricSeries",
    "OtherAlarm",
    "PastIncident",
    "PointsFrom",
    "RawLine",
    "RdsEvent",
    "ResourceSpec",
    "Scenario",
    "ServiceNowTicket",
    "Ticket",
    "Truth",
    "is_extended_statistic",
    "load_scenario",
    "load_scenarios",
    "parse_relative",
    "parse_scenario",
    "resolve_time",
    "split_task_definition",
]


_SLUG = re.compile(r"[a-z0-9-]+")


class Scenario(Strict):
    """One incident and the world around it, with the truth (SCENARIOS.md)."""

    id: str
    title: str = Field(min_length=1)
    region: str = Field(default="us-east-1", pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    account: str | None = Field(default=None, pattern=r"^\d{12}$")
    services: list[Service] = Field(min_length=1)
    alarms: list[AlarmSpec] = Field(min_length=1)
    metrics: list[MetricSeries] = Field(default_factory=list)
    logs: list[LogGroupSpec] = Field(default_factory=list)
    deploys: list[Deploy] = Field(default_factory=list)
    commits: list[Commit] = Field(default_factory=list)
    changes: list[CloudTrailChange] = Field(default_factory=list)
    other_alarms: list[OtherAlarm] = Field(default_factory=list)
    tickets: list[Ticket] = Field(default_factory=list)
    history: list[PastIncident] = Field(default_factory=list)
    resources: list[ResourceSpec] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    truth: Truth
    _source: Path | None = PrivateAttr(default=None)

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.fullmatch(value):
            raise PydanticCustomError("slug", "id must be a slug of lowercase letters, digits and '-'")
        return value

    @field_validator("account", mode="before")
    @classmethod
    def _account_digits(cls, value: object) -> object:
        # `account: 123456789012` without quotes is a YAML integer; it is still an account id.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @property
    def source(self) -> Path | None:
        """The file this scenario was loaded from, if any."""
        return self._source

    @property
    def incident_alarm(self) -> AlarmSpec:
        """The alarm that starts the incident (the first one)."""
        return self.alarms[0]

    def service(self, name: str) -> Service | None:
        return next((service for service in self.services if service.name == name), None)


def _duplicates(names: list[str]) -> Iterator[tuple[int, str]]:
    counts = Counter(names)
    seen: set[str] = set()
    for index, name in enumerate(names):
        if counts[name] > 1 and name in seen:
            yield index, name
        seen.add(name)


def _cross_section_problems(scenario: Scenario) -> Iterator[tuple[tuple[str | int, ...], str]]:
    services = [service.name for service in scenario.services]
    for index, name in _duplicates(services):
        yield ("services", index, "name"), f"duplicate service {name!r}"
    for index, alarm in enumerate(scenario.alarms):
        if alarm.service not in services:
            yield (
                ("alarms", index, "service"),
                f"unknown service {alarm.service!r} (services: {', '.join(services)})",
            )
    alarm_names = [a.name for a in scenario.alarms] + [a.name for a in scenario.other_alarms]
    for index, name in _duplicates(alarm_names):
        where = ("alarms", index) if index < len(scenario.alarms) else ("other_alarms", index - len(scenario.alarms))
        yield (*where, "name"), f"duplicate alarm name {name!r}"
    series = [
        (m.metric.namespace, m.metric.name, tuple(sorted(m.metric.dimensions.items())), m.metric.stat)
        for m in scenario.metrics
    ]
    for index, _ in _duplicates([repr(key) for key in series]):
        yield (
            ("metrics", index, "metric"),
            "a series for this metric (namespace, name, dimensions, stat) already exists",
        )
    yield from _resource_problems(scenario)
    truth = scenario.truth
    if truth.category == "unknown" and truth.culprit is not None:
        yield ("truth", "culprit"), "must be omitted when the category is 'unknown'"
    if truth.also and (truth.category == "unknown" or "unknown" in truth.also):
        yield ("truth", "also"), "'unknown' takes no second category: abstaining is the only right answer"
    elif truth.category in truth.also:
        yield ("truth", "also"), f"repeats the category {truth.category!r}"
    for kind in sorted(set(truth.actions) & set(truth.forbid)):
        yield ("truth", "forbid"), f"{kind!r} is both accepted (actions) and forbidden"


def _resource_problems(scenario: Scenario) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Format 2: resource ids unique per type, links that name declared resources, ECS target group ids."""
    for index, service in enumerate(scenario.services):
        for position, group in enumerate(service.ecs.target_groups if service.ecs else []):
            problem = target_group_problem(group)
            if problem:
                yield ("services", index, "ecs", "target_groups", position), problem
    keys = [f"{r.type} {r.id}" for r in scenario.resources]
    for index, key in _duplicates(keys):
        yield ("resources", index, "id"), f"duplicate resource {key}"
    declared = {r.id: r.type for r in scenario.resources}
    for index, resource in enumerate(scenario.resources):
        for field, wanted in (("protects", None), ("targets", (DB_INSTANCE, DB_CLUSTER))):
            for position, target in enumerate(getattr(resource, field)):
                kind = declared.get(target)
                if kind is None or (wanted and kind not in wanted) or (kind == WEB_ACL):
                    allowed = " or ".join(wanted) if wanted else "a load balancer, API stage or other resource"
                    yield (
                        ("resources", index, field, position),
                        f"{target!r} is not declared in resources as {allowed}",
                    )


def parse_scenario(data: object, source: str = "<scenario>") -> Scenario:
    """Validate already-parsed YAML; `source` names the file in error messages."""
    if data is None:
        raise ScenarioError(f"{source}: (top level): the file is empty")
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: (top level): a scenario must be a YAML mapping, got {type(data).__name__}")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError("\n".join(format_validation_error(exc, Scenario, source))) from exc
    problems = [f"{source}: {field_path(loc)}: {problem}" for loc, problem in _cross_section_problems(scenario)]
    if problems:
        raise ScenarioError("\n".join(problems))
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate one scenario file; raises ScenarioError naming file, field and problem."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{file}: cannot read the file: {exc}") from exc
    try:
        data = read_yaml(text, str(file))
    except ValueError as exc:
        raise ScenarioError(str(exc)) from exc
    scenario: Scenario = parse_scenario(data, str(file))
    scenario._source = file
    return scenario


def load_scenarios(directory: str | Path) -> list[Scenario]:
    """Load every `*.yaml`/`*.yml` file directly in `directory`, sorted by name; ids must be unique.

    Problems in all files are collected into one ScenarioError.
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise ScenarioError(f"{folder}: not a directory of scenario files")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))
    if not files:
        raise ScenarioError(f"{folder}: no scenario files (*.yaml, *.yml)")
    scenarios: list[Scenario] = []
    problems: list[str] = []
    first_file: dict[str, Path] = {}
    for file in files:
        try:
            scenario = load_scenario(file)
        except ScenarioError as exc:
            problems.append(str(exc))
            continue
        if scenario.id in first_file:
            problems.append(f"{file}: id: duplicate id {scenario.id!r} (also in {first_file[scenario.id]})")
            continue
        first_file[scenario.id] = file
        scenarios.append(scenario)
    if problems:
        raise ScenarioError("\n".join(problems))
    return scenarios
