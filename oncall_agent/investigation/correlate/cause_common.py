"""What the cause readers share: the id of this service's own resource, the metric of a shift or an alarm, the
text of a log signature, and whether an alarm is recent enough to count."""

from __future__ import annotations

from oncall_agent.domain.evidence import Evidence
from oncall_agent.investigation.correlate import relations, symptoms
from oncall_agent.investigation.correlate.candidates import CHRONIC_ALARM_MINUTES, Facts

NOISY_LEVELS = ("ERROR", "WARN")
INCREASED_SHARE = 0.6
"""A signature that was there before and grew says less than one that is new: its strength counts this much."""


def own_resource(facts: Facts) -> str:
    """The id this service's own resource goes by: its ECS service, its Lambda function, else its name."""
    service = facts.ctx.service
    if service.ecs:
        return service.ecs.service
    if service.lambda_:
        return service.lambda_.function
    return service.name


def canonical(resource: str | None, facts: Facts) -> str:
    if not resource or resource in relations.service_names(facts.ctx.service):
        return own_resource(facts)
    return resource


def texts(item: Evidence) -> list[str]:
    return [str(item.details.get("template", "")), *map(str, item.details.get("samples") or [])]


def metric_of(item: Evidence) -> tuple[str, str, dict[str, str]]:
    if "metric" in item.details and isinstance(item.details["metric"], dict):  # a related alarm
        metric = item.details["metric"]
        return str(metric.get("namespace", "")), str(metric.get("name", "")), dict(metric.get("dimensions") or {})
    return (
        str(item.details.get("namespace", "")),
        str(item.details.get("metric", "")),
        item.details.get("dimensions") or {},
    )


def own_shift(facts: Facts) -> Evidence | None:
    """The alarm metric's detected shift, if any."""
    return next((e for e in facts.shifts if e.details.get("alarm_metric") and e.details.get("detected")), None)


def bad_way(item: Evidence, name: str) -> bool:
    return item.details.get("direction") == symptoms.bad_direction(name)


def ratio(item: Evidence) -> float:
    before, after = float(item.details.get("before") or 0.0), float(item.details.get("after") or 0.0)
    return round(after / before, 3) if before > 0 else (10.0 if after > 0 else 1.0)


def active(item: Evidence) -> bool:
    return float(item.details.get("minutes_before_onset") or 0.0) <= CHRONIC_ALARM_MINUTES
