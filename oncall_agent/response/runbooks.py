"""Runbooks: markdown files with YAML front matter that map hypotheses to allow-listed actions.

```
---
id: ecs-bad-deploy
title: Roll back a bad ECS deploy
match: {categories: [deploy], targets: [ecs], deploy_kinds: [ecs], services: ["*"], alarm_names: ["*-5xx*"]}
diagnostics: [{name: errors, kind: logs_insights, query: "fields @message | filter @message like /ERROR/"}]
actions:
  - {kind: ecs.rollback, risk: medium, parameters: {task_definition: "{{ culprit_deploy.previous }}"}}
---
Markdown for people.
```

Loading is strict: unknown keys, action kinds outside the allow-list and templates that do not compile raise
ConfigError naming the file and the field. Parameter templates are rendered in a Jinja2 sandbox with
StrictUndefined; `None` values are removed from the context first, so a missing fact (no previous task
definition) fails the render instead of producing "None". Runbook text is data: nothing in it is executed.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any, Literal

import jinja2
import yaml
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from oncall_agent.domain.catalog import Service
from oncall_agent.domain.errors import ConfigError
from oncall_agent.domain.evidence import Category, Hypothesis

ACTION_KINDS = frozenset(
    {
        "ecs.rollback",
        "ecs.scale",
        "ecs.restart",
        "lambda.rollback",
        "codedeploy.rollback",
        "ssm.automation",
        "escalate",
    }
)
TARGET_KINDS = ("ecs", "lambda", "codedeploy")
_CATEGORIES = {category.value for category in Category}
_ENV = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunbookMatch(_Strict):
    """Every given condition must hold; a list matches when any of its entries does ("*" matches all)."""

    categories: list[str] = Field(min_length=1)
    services: list[str] = Field(default_factory=list)
    targets: list[Literal["ecs", "lambda", "codedeploy"]] = Field(default_factory=list)
    deploy_kinds: list[str] = Field(default_factory=list)
    alarm_names: list[str] = Field(default_factory=list)
    namespaces: list[str] = Field(default_factory=list)

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c != "*" and c not in _CATEGORIES]
        if unknown:
            raise ValueError(f"unknown categories {unknown}; known: {sorted(_CATEGORIES)} or '*'")
        return value


class Diagnostic(_Strict):
    name: str
    kind: Literal["logs_insights", "metric", "note"]
    query: str
    description: str = ""


class RunbookAction(_Strict):
    kind: str
    risk: Literal["low", "medium", "high"] = "medium"
    parameters: dict[str, str] = Field(default_factory=dict)
    # `required`: a high-risk action is decided by a ServiceNow change request (its approval counts as the
    # action's approval; rejected or canceled rejects it) instead of an approval in the console, API or GitHub.
    change: Literal["none", "required"] = "none"

    @field_validator("kind")
    @classmethod
    def _allowed_kind(cls, value: str) -> str:
        if value not in ACTION_KINDS:
            raise ValueError(f"action kind {value!r} is not allowed; allowed: {sorted(ACTION_KINDS)}")
        return value

    @model_validator(mode="after")
    def _change_only_for_high_risk(self) -> RunbookAction:
        if self.change == "required" and self.risk != "high":
            raise ValueError(f"{self.kind}: change: required needs risk: high (it is {self.risk})")
        return self

    @field_validator("parameters")
    @classmethod
    def _templates_compile(cls, value: dict[str, str]) -> dict[str, str]:
        for name, template in value.items():
            try:
                _ENV.from_string(template)
            except jinja2.TemplateSyntaxError as exc:
                raise ValueError(f"parameter {name!r}: template does not compile: {exc.message}") from exc
        return value


class Runbook(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    match: RunbookMatch
    diagnostics: list[Diagnostic] = Field(default_factory=list)
    actions: list[RunbookAction] = Field(min_length=1)
    body: str = ""
    source: str = ""


class RenderError(Exception):
    """A parameter template could not be filled from the facts at hand (the action is not proposed)."""


def shipped_runbooks_dir() -> Path:
    """The runbooks and policies shipped with the package (`oncall_agent/_runbooks` in a wheel, `runbooks/` in a
    source checkout)."""
    package = Path(__file__).resolve().parent.parent
    installed = package / "_runbooks"
    return installed if installed.is_dir() else package.parent / "runbooks"


def load_runbooks(folder: str | Path) -> list[Runbook]:
    """Every `*.md` runbook in `folder`, sorted by file name; ConfigError on any invalid file or duplicate id."""
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"{root}: runbooks folder not found")
    runbooks: list[Runbook] = []
    seen: dict[str, Path] = {}
    for path in sorted(root.glob("*.md")):
        runbook = parse_runbook(path.read_text(encoding="utf-8"), str(path))
        if runbook.id in seen:
            raise ConfigError(f"{path}: id: {runbook.id!r} is already used by {seen[runbook.id]}")
        seen[runbook.id] = path
        runbooks.append(runbook)
    return runbooks


def parse_runbook(text: str, source: str) -> Runbook:
    """One runbook from its file text; `source` names the file in error messages."""
    front, body = _split_front_matter(text, source)
    try:
        data = yaml.safe_load(front)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: front matter is not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: front matter must be a mapping")
    for reserved in ("body", "source"):
        if reserved in data:
            raise ConfigError(f"{source}: {reserved}: not allowed in front matter")
    try:
        return Runbook.model_validate({**data, "body": body.strip(), "source": source})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise ConfigError(f"{source}: {where}: {first['msg']}") from exc


def _split_front_matter(text: str, source: str) -> tuple[str, str]:
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise ConfigError(f"{source}: must start with a '---' line (YAML front matter)")
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            return "".join(lines[1:index]), "".join(lines[index + 1 :])
    raise ConfigError(f"{source}: front matter is not closed by a '---' line")


def _any_glob(value: str | None, patterns: list[str]) -> bool:
    if not patterns:
        return True
    return value is not None and any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)


def _has_target(service: Service, targets: list[str]) -> bool:
    present = {"ecs": service.ecs, "lambda": service.lambda_, "codedeploy": service.codedeploy}
    return not targets or any(present[target] is not None for target in targets)


def matches(
    runbook: Runbook,
    hypothesis: Hypothesis,
    service: Service,
    alarm_name: str | None,
    namespace: str | None,
    culprit_deploy: dict[str, Any] | None = None,
) -> bool:
    rule = runbook.match
    if "*" not in rule.categories and hypothesis.category.value not in rule.categories:
        return False
    if rule.deploy_kinds and (culprit_deploy is None or culprit_deploy.get("kind") not in rule.deploy_kinds):
        return False
    return (
        _any_glob(service.name, rule.services)
        and _has_target(service, list(rule.targets))
        and _any_glob(alarm_name, rule.alarm_names)
        and _any_glob(namespace, rule.namespaces)
    )


def match(
    runbooks: list[Runbook],
    hypothesis: Hypothesis,
    service: Service,
    alarm_name: str | None,
    namespace: str | None,
    culprit_deploy: dict[str, Any] | None = None,
) -> list[Runbook]:
    """The runbooks whose `match` holds for this hypothesis, service and alarm, in load order."""
    return [rb for rb in runbooks if matches(rb, hypothesis, service, alarm_name, namespace, culprit_deploy)]


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _prune(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_prune(v) for v in value if v is not None]
    return value


def render_parameters(action: RunbookAction, context: dict[str, Any]) -> dict[str, str]:
    """Fill every parameter template from `context` (None values count as missing); RenderError if any
    template fails or renders empty: an action is proposed whole or not at all."""
    facts = _prune(context)
    rendered: dict[str, str] = {}
    for name, template in action.parameters.items():
        try:
            value = _ENV.from_string(template).render(facts).strip()
        except jinja2.UndefinedError as exc:
            raise RenderError(f"parameter {name!r}: {exc.message}") from exc
        except Exception as exc:  # a sandbox violation or a type error in the template: never half-filled
            raise RenderError(f"parameter {name!r}: {type(exc).__name__}: {exc}") from exc
        if not value:
            raise RenderError(f"parameter {name!r}: renders empty")
        rendered[name] = value
    return rendered
