"""resource_exhaustion: what says each resource is running out, and one candidate per resource.

The culprit is the resource id - this service's ECS service or Lambda function, a database, a cache. Evidence:
saturation alarms or the alarm's own saturation metric (memory, connections, free storage...) and log lines of
the taxonomy's `exhaustion` family (OOM kills, "too many connections", "No space left on device", a pool
exhausted, a dependency refusing writes). Lines that name a managed database or cache endpoint, or (for classes a
client reports about its server: connections, disk, throttling, capacity refusals) a dependency that is not a
catalog service, are about that resource; unnamed connection and disk lines are about the one resource with a
saturation alarm of that kind, if this service has none; other lines are about this service. A node
(`sessions-redis-001`) is its cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from oncall_agent.domain.evidence import Category, Evidence
from oncall_agent.domain.time import as_utc
from oncall_agent.investigation.correlate import relations, symptoms
from oncall_agent.investigation.correlate.candidates import Candidate, Facts, alarm_metric_class, resource_strain
from oncall_agent.investigation.correlate.cause_common import (
    INCREASED_SHARE,
    NOISY_LEVELS,
    active,
    bad_way,
    canonical,
    metric_of,
    own_resource,
    own_shift,
    texts,
)
from oncall_agent.investigation.correlate.taxonomy import SymptomClass


@dataclass
class Strain:
    """What says one resource is running out."""

    resource: str
    kinds: set[str] = field(default_factory=set)
    alarms: list[Evidence] = field(default_factory=list)  # saturation alarms and the alarm metric's own shift
    logs: list[Evidence] = field(default_factory=list)
    log_strength: float = 0.0
    own_shift: Evidence | None = None


def _strain_resource_of_alarm(item: Evidence, facts: Facts) -> str | None:
    relation = item.details.get("relation")
    _, _, dimensions = metric_of(item)
    named = symptoms.metric_resource(dimensions)
    if relation in (relations.SELF, relations.RESOURCE):
        return canonical(named, facts)
    if relation == relations.UPSTREAM and resource_strain(item, facts.ctx):
        return named or str(item.details.get("service"))
    return None


def _resource_dependencies(facts: Facts) -> set[str]:
    """Dependencies that are resources rather than catalog services (a database, a cache)."""
    return {name for name in facts.ctx.service.depends_on if facts.ctx.catalog_entry(name) is None}


def _strain_resource_of_line(item: Evidence, found: SymptomClass, facts: Facts, alarmed: dict[str, set[str]]) -> str:
    """The resource a line that says capacity ran out is about: a database or cache endpoint it names, else (for
    a class a client reports about its server - connections, disk, a dependency refusing writes) a resource
    dependency it names or, failing that, the one resource with a saturation alarm of the same kind when this
    service has none; else this service. (`alarmed`: resource -> kinds of its saturation alarms.)"""
    lines = texts(item)
    managed = sorted(symptoms.managed_resources(lines))
    if managed:
        return managed[0]
    own = own_resource(facts)
    kind = found.kind
    if found.names_peer:
        named = relations.mentions(lines, _resource_dependencies(facts))
        if named:
            return named[0]
        same_kind = sorted(resource for resource, kinds in alarmed.items() if kind in kinds)
        if same_kind and own not in same_kind and len(same_kind) == 1:
            return same_kind[0]
    return own


def strains(facts: Facts) -> dict[str, Strain]:
    strains: dict[str, Strain] = {}

    def strain(resource: str) -> Strain:
        return strains.setdefault(resource, Strain(resource))

    own = own_shift(facts)
    metric = facts.ctx.alarm_metric
    own_class = symptoms.metric_class(metric.namespace, metric.name) if metric else None
    if own is not None and metric is not None and own_class == symptoms.SATURATION and bad_way(own, metric.name):
        found = strain(canonical(symptoms.metric_resource(metric.dimensions), facts))
        found.kinds.add(metric.name)
        found.alarms.append(own)
        found.own_shift = own
    for item in facts.alarms:
        if alarm_metric_class(item) != symptoms.SATURATION:
            continue
        resource = _strain_resource_of_alarm(item, facts)
        if resource is not None:
            found = strain(resource)
            found.kinds.add(metric_of(item)[1])
            found.alarms.append(item)
    alarmed = {
        resource: {k for name in strain.kinds if (k := symptoms.saturation_kind(name))}
        for resource, strain in strains.items()
    }
    for item in facts.signatures:
        exhausted = symptoms.exhaustion_symptom(texts(item))
        if exhausted is None:
            continue
        strength = exhausted.strength
        if item.details.get("level") not in NOISY_LEVELS and not (strength >= 1.0 and item.details.get("new")):
            continue
        found = strain(_strain_resource_of_line(item, exhausted, facts, alarmed))
        found.kinds.add(exhausted.kind)
        found.logs.append(item)
        found.log_strength = max(found.log_strength, strength * (1.0 if item.details.get("new") else INCREASED_SHARE))
    return _merge_members(strains, own_resource(facts))


def _merge_members(strains: dict[str, Strain], own: str) -> dict[str, Strain]:
    """A node or member of a resource (`sessions-redis-001`, `orders-db-instance-1`) is that resource
    (`sessions-redis`, `orders-db`): metrics name nodes, endpoints name clusters. (Not this service's own
    resource: `checkout-db` is not a part of `checkout`.)"""
    for name in sorted(strains, key=len, reverse=True):
        parents = (other for other in sorted(strains, key=len) if other != own and name.startswith(f"{other}-"))
        parent = next(parents, None)
        if parent is None:
            continue
        member, into = strains.pop(name), strains[parent]
        into.kinds |= member.kinds
        into.alarms += member.alarms
        into.logs += member.logs
        into.log_strength = max(into.log_strength, member.log_strength)
        into.own_shift = into.own_shift or member.own_shift
    return strains


def strain_at(strain: Strain) -> datetime | None:
    """When the strain began: its first line or its first alarm that is not chronic."""
    times = [as_utc(e.at) for e in [*active_alarms(strain), *strain.logs] if e.at]
    return min(times, default=None)


def active_alarms(strain: Strain) -> list[Evidence]:
    """Its alarms (and the alarm metric's shift) that started within the last 6 hours."""
    return [e for e in strain.alarms if e.details.get("alarm_metric") or active(e)]


def exhaustion_candidates(found: dict[str, Strain]) -> list[Candidate]:
    """One candidate per strained resource (from `strains`)."""
    result = []
    for resource, strain in sorted(found.items()):
        ids = [e.id for e in [*strain.alarms, *strain.logs]]
        kinds = ", ".join(sorted(strain.kinds))
        label = f"{resource} is running out ({kinds})"
        tokens = frozenset({resource})
        result.append(Candidate(Category.RESOURCE_EXHAUSTION, resource, strain_at(strain), ids, label, tokens))
    return result
