"""Severity of an incident, derived from facts the agent has (the service's environment tag, the kind of alarm,
the blast radius = how many catalog services depend on it, directly or not), as ServiceNow impact and urgency
(1 high .. 3 low) and the priority ServiceNow's default lookup gives them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from oncall_agent.domain.catalog import Service

PRODUCTION = frozenset({"prod", "production", "prd", "live"})
ENVIRONMENT_TAGS = ("env", "environment", "stage")
# Words in an alarm or metric name that say what kind of trouble it is; errors hurt users now.
_ERRORS = re.compile(r"(?i)5xx|error|fault|fail|unhealthy|availability|throttl|dlq|deadletter|exception|denied")
_SLOW = re.compile(r"(?i)latency|duration|p9\d|response.?time|timeout|lag|backlog|age|queue")
# ServiceNow's out-of-box priority lookup (dl_u_priority): impact + urgency -> priority 1 (critical) .. 5.
_PRIORITY = {2: 1, 3: 2, 4: 3, 5: 4, 6: 5}
_LABEL = {1: "critical", 2: "high", 3: "moderate", 4: "low", 5: "planning"}


@dataclass(frozen=True)
class Severity:
    impact: int
    urgency: int
    reasons: tuple[str, ...]

    @property
    def priority(self) -> int:
        return priority(self.impact, self.urgency)

    @property
    def level(self) -> str:
        """`sev1` .. `sev4` (priorities 4 and 5 are both sev4)."""
        return f"sev{min(self.priority, 4)}"

    def describe(self) -> str:
        """In plain words, e.g. `sev2 (high: production, errors, 0 dependent services)`."""
        return f"{self.level} ({_LABEL[self.priority]}: {', '.join(self.reasons)})"


def priority(impact: int, urgency: int) -> int:
    if impact not in (1, 2, 3) or urgency not in (1, 2, 3):
        raise ValueError(f"impact and urgency must be 1, 2 or 3, not {impact} and {urgency}")
    return _PRIORITY[impact + urgency]


def environment(service: Service | None, alarm_tags: dict[str, str] | None = None) -> str:
    """The environment the service's (or the alarm's) tags name; `unknown` without one."""
    for tags in (service.tags if service else {}, alarm_tags or {}):
        for key in ENVIRONMENT_TAGS:
            if tags.get(key):
                return tags[key].strip().lower()
    return "unknown"


def alarm_kind(*names: str | None) -> str:
    """`errors`, `latency` or `other`, from the alarm's and its metric's names."""
    text = " ".join(name for name in names if name)
    if _ERRORS.search(text):
        return "errors"
    return "latency" if _SLOW.search(text) else "other"


def dependents(name: str, catalog: Iterable[Service]) -> list[str]:
    """Catalog services that depend on `name`, directly or through others (the blast radius)."""
    users: dict[str, set[str]] = {}
    for service in catalog:
        for dependency in service.depends_on:
            users.setdefault(dependency, set()).add(service.name)
    found: set[str] = set()
    todo = [name]
    while todo:
        for user in users.get(todo.pop(), set()) - found - {name}:
            found.add(user)
            todo.append(user)
    return sorted(found)


def derive(
    service: Service | None,
    catalog: Iterable[Service],
    alarm_name: str,
    metric_name: str | None = None,
    alarm_tags: dict[str, str] | None = None,
) -> Severity:
    """Urgency from the environment and the kind of alarm; impact from the environment and the blast radius."""
    env = environment(service, alarm_tags)
    kind = alarm_kind(alarm_name, metric_name)
    radius = len(dependents(service.name, catalog)) if service else 0
    production = env in PRODUCTION
    # Outside production only errors in an unknown environment are treated as possibly production.
    urgency = (
        {True: 1, False: 2}[kind == "errors"] if production else (2 if kind == "errors" and env == "unknown" else 3)
    )
    if radius >= 2 or (production and radius >= 1):
        impact = 1
    elif production or radius >= 1 or env == "unknown":
        impact = 2
    else:
        impact = 3
    where = "production" if production else f"environment {env}"
    plural = "" if radius == 1 else "s"
    return Severity(impact, urgency, (where, f"{kind} alarm", f"{radius} dependent service{plural}"))
