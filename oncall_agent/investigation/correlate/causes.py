"""Causes that are not a change of ours: a traffic surge, a resource running out, a credential that expired and
an infrastructure (AWS-side) failure. `read_symptoms` sorts what the evidence says about the state of things
(the tables are in `symptoms`); the `*_candidates` functions turn it into candidates:

- traffic_surge (no culprit: no single identifier names a surge): the load rose - the alarm's own metric is a
  load metric (RequestCount, Invocations...) that went up, the routine log lines (the requests the service
  serves every day) came faster, or a load alarm of the service is in ALARM.
- resource_exhaustion, one per resource (culprit: the resource id - this service's ECS service or Lambda
  function, a database, a cache): saturation alarms or the alarm's own saturation metric (memory,
  connections, free storage...) and log lines that say capacity ran out (OOM kills, "too many connections",
  "No space left on device", pool exhausted). Lines that name a managed database or cache endpoint, or a
  dependency that is not a catalog service, are about that resource; unnamed connection and disk lines (a
  client reports those about its server) are about the one resource with a saturation alarm of that kind, if
  this service has none; other lines are about this service. A node (`sessions-redis-001`) is its cluster.
- credential_expiry without a change (culprit: the certificate of a DaysToExpiry alarm - of this service, else
  of a dependency it calls, whose server certificate it verifies - else the first identifier the failing lines
  name, else none): log lines that say a certificate, token, key or password expired or was rejected. (A
  rotation in CloudTrail is a change candidate: see `candidates`.)
- infrastructure (culprit: the availability zone, else the host or volume): health alarms of this service's
  resources (EC2 status checks, unhealthy targets, an AZ dimension) and new errors that all name one zone or one
  host. AWS Health events are not gathered by any source: zones and hosts are all the evidence there is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from oncall_agent.domain.evidence import Category, Evidence
from oncall_agent.domain.time import as_utc
from oncall_agent.investigation.correlate import relations, symptoms
from oncall_agent.investigation.correlate.candidates import (
    CHRONIC_ALARM_MINUTES,
    Candidate,
    Facts,
    alarm_metric_class,
    resource_strain,
)

MIN_LOAD_RATIO = 1.3
"""A load at least this many times its baseline is a rise worth a candidate."""
CERTIFICATE_METRICS = frozenset({"DaysToExpiry"})
NOISY_LEVELS = ("ERROR", "WARN")
INCREASED_SHARE = 0.6
"""A signature that was there before and grew says less than one that is new: its strength counts this much."""


@dataclass(frozen=True)
class Load:
    """The strongest sign of more load: `ratio` (incident level over baseline level, from a numeric source),
    when it started, and the evidence (metric shifts, load alarms)."""

    ratio: float | None = None
    onset: datetime | None = None
    shift_ids: list[str] = field(default_factory=list)
    alarm_ids: list[str] = field(default_factory=list)
    alarm_since: datetime | None = None
    own_alarm: bool = False  # the incident's own alarm watches a load metric

    @property
    def present(self) -> bool:
        return (self.ratio is not None and self.ratio >= MIN_LOAD_RATIO) or bool(self.alarm_ids) or self.own_alarm


@dataclass
class Strain:
    """What says one resource is running out."""

    resource: str
    kinds: set[str] = field(default_factory=set)
    alarms: list[Evidence] = field(default_factory=list)  # saturation alarms and the alarm metric's own shift
    logs: list[Evidence] = field(default_factory=list)
    log_strength: float = 0.0
    own_shift: Evidence | None = None


@dataclass(frozen=True)
class CredentialFailure:
    signature: Evidence
    kind: str  # expired | rejected | denied
    strength: float


@dataclass(frozen=True)
class InfraAlarm:
    alarm: Evidence
    specificity: float  # 1 = names a zone or a host or is an AWS-side check; 0.5 = generic target health
    zone: str | None
    host: str | None


@dataclass
class Symptoms:
    load: Load
    strains: dict[str, Strain]
    credentials: list[CredentialFailure]
    certificate_alarms: list[Evidence]
    infra_alarms: list[InfraAlarm]
    zone_errors: dict[str, list[str]]  # zone -> ids of the new error signatures that name it
    host_errors: dict[str, list[str]]


def own_resource(facts: Facts) -> str:
    """The id this service's own resource goes by: its ECS service, its Lambda function, else its name."""
    service = facts.ctx.service
    if service.ecs:
        return service.ecs.service
    if service.lambda_:
        return service.lambda_.function
    return service.name


def _canonical(resource: str | None, facts: Facts) -> str:
    if not resource or resource in relations.service_names(facts.ctx.service):
        return own_resource(facts)
    return resource


def texts(item: Evidence) -> list[str]:
    return [str(item.details.get("template", "")), *map(str, item.details.get("samples") or [])]


def _metric(item: Evidence) -> tuple[str, str, dict[str, str]]:
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


def _bad_way(item: Evidence, name: str) -> bool:
    return item.details.get("direction") == symptoms.bad_direction(name)


def _ratio(item: Evidence) -> float:
    before, after = float(item.details.get("before") or 0.0), float(item.details.get("after") or 0.0)
    return round(after / before, 3) if before > 0 else (10.0 if after > 0 else 1.0)


def _active(item: Evidence) -> bool:
    return float(item.details.get("minutes_before_onset") or 0.0) <= CHRONIC_ALARM_MINUTES


# --- load ----------------------------------------------------------------------------------------------------


def _load(facts: Facts) -> Load:
    numeric: list[tuple[float, datetime, str]] = []
    own = own_shift(facts)
    metric = facts.ctx.alarm_metric
    own_is_load = metric is not None and symptoms.metric_class(metric.namespace, metric.name) == symptoms.LOAD
    if own is not None and own_is_load and own.details.get("direction") == "up" and own.at:
        numeric.append((_ratio(own), as_utc(own.at), own.id))
    for item in facts.shifts:
        if item.details.get("derived") == "logs" and item.details.get("direction") == "up" and item.at:
            numeric.append((_ratio(item), as_utc(item.at), item.id))
    alarms = [
        e
        for e in facts.alarms
        if e.details.get("relation") in (relations.SELF, relations.RESOURCE)
        and alarm_metric_class(e) == symptoms.LOAD
        and _active(e)
    ]
    rising = [n for n in numeric if n[0] >= MIN_LOAD_RATIO]
    return Load(
        ratio=max((n[0] for n in numeric), default=None),
        onset=min((n[1] for n in rising), default=None),
        shift_ids=[n[2] for n in sorted(rising, key=lambda n: -n[0])],
        alarm_ids=[e.id for e in alarms],
        alarm_since=min((as_utc(e.at) for e in alarms if e.at), default=None),
        own_alarm=own_is_load,
    )


# --- strain --------------------------------------------------------------------------------------------------


def _strain_resource_of_alarm(item: Evidence, facts: Facts) -> str | None:
    relation = item.details.get("relation")
    _, _, dimensions = _metric(item)
    named = symptoms.metric_resource(dimensions)
    if relation in (relations.SELF, relations.RESOURCE):
        return _canonical(named, facts)
    if relation == relations.UPSTREAM and resource_strain(item, facts.ctx):
        return named or str(item.details.get("service"))
    return None


def _resource_dependencies(facts: Facts) -> set[str]:
    """Dependencies that are resources rather than catalog services (a database, a cache)."""
    return {name for name in facts.ctx.service.depends_on if facts.ctx.catalog_entry(name) is None}


def _strain_resource_of_line(item: Evidence, kind: str, facts: Facts, alarmed: dict[str, set[str]]) -> str:
    """The resource a line that says capacity ran out is about: a database or cache endpoint it names, else (for
    connections and disk, which a client reports about its server) a resource dependency it names or, failing
    that, the one resource with a saturation alarm of the same kind when this service has none; else this
    service. (`alarmed`: resource -> kinds of its saturation alarms.)"""
    lines = texts(item)
    managed = sorted(symptoms.managed_resources(lines))
    if managed:
        return managed[0]
    own = own_resource(facts)
    if kind in ("connections", "disk"):
        named = relations.mentions(lines, _resource_dependencies(facts))
        if named:
            return named[0]
        same_kind = sorted(resource for resource, kinds in alarmed.items() if kind in kinds)
        if same_kind and own not in same_kind and len(same_kind) == 1:
            return same_kind[0]
    return own


def _strains(facts: Facts) -> dict[str, Strain]:
    strains: dict[str, Strain] = {}

    def strain(resource: str) -> Strain:
        return strains.setdefault(resource, Strain(resource))

    own = own_shift(facts)
    metric = facts.ctx.alarm_metric
    own_class = symptoms.metric_class(metric.namespace, metric.name) if metric else None
    if own is not None and metric is not None and own_class == symptoms.SATURATION and _bad_way(own, metric.name):
        found = strain(_canonical(symptoms.metric_resource(metric.dimensions), facts))
        found.kinds.add(metric.name)
        found.alarms.append(own)
        found.own_shift = own
    for item in facts.alarms:
        if alarm_metric_class(item) != symptoms.SATURATION:
            continue
        resource = _strain_resource_of_alarm(item, facts)
        if resource is not None:
            found = strain(resource)
            found.kinds.add(_metric(item)[1])
            found.alarms.append(item)
    alarmed = {
        resource: {k for name in strain.kinds if (k := symptoms.saturation_kind(name))}
        for resource, strain in strains.items()
    }
    for item in facts.signatures:
        exhausted = symptoms.exhaustion_class(texts(item))
        if exhausted is None:
            continue
        kind, strength = exhausted
        if item.details.get("level") not in NOISY_LEVELS and not (strength >= 1.0 and item.details.get("new")):
            continue
        found = strain(_strain_resource_of_line(item, kind, facts, alarmed))
        found.kinds.add(kind)
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


# --- credentials and infrastructure ------------------------------------------------------------------------


def _credentials(facts: Facts) -> list[CredentialFailure]:
    found = []
    for item in facts.signatures:
        failed = symptoms.credential_class(texts(item))
        if failed is not None:
            kind, strength = failed
            share = 1.0 if item.details.get("new") else INCREASED_SHARE
            found.append(CredentialFailure(item, kind, round(strength * share, 3)))
    return found


def _infra_alarms(facts: Facts) -> list[InfraAlarm]:
    items: list[Evidence] = [
        e
        for e in facts.alarms
        if e.details.get("relation") in (relations.SELF, relations.RESOURCE)
        and alarm_metric_class(e) == symptoms.INFRASTRUCTURE
    ]
    own = own_shift(facts)
    metric = facts.ctx.alarm_metric
    own_class = symptoms.metric_class(metric.namespace, metric.name) if metric else None
    if own is not None and metric is not None and own_class == symptoms.INFRASTRUCTURE and _bad_way(own, metric.name):
        items.append(own)
    found = []
    for item in items:
        _, name, dimensions = _metric(item)
        zone = symptoms.metric_zone(dimensions)
        host = dimensions.get("InstanceId") or dimensions.get("VolumeId")
        specific = zone or host or name in symptoms.AWS_SIDE_CHECKS or name.startswith("StatusCheckFailed")
        found.append(InfraAlarm(item, 1.0 if specific else 0.5, zone, host))
    return found


def _named_by_errors(facts: Facts, extract: Callable[[Iterable[str]], set[str]]) -> dict[str, list[str]]:
    """What the new or increased errors and warnings name (zones, hosts), with the signatures naming each."""
    named: dict[str, list[str]] = {}
    for item in facts.signatures:
        if item.details.get("level") not in NOISY_LEVELS:
            continue
        for value in sorted(extract(texts(item))):
            named.setdefault(value, []).append(item.id)
    return named


def _certificate_alarms(facts: Facts) -> list[Evidence]:
    """Certificate expiry alarms of this service (a certificate it presents) and then of the dependencies it
    calls (a server certificate it verifies: an expired one fails our handshakes just the same)."""
    order = {relations.SELF: 0, relations.RESOURCE: 0, relations.UPSTREAM: 1}
    found = [e for e in facts.alarms if e.details.get("relation") in order and _metric(e)[1] in CERTIFICATE_METRICS]
    return sorted(found, key=lambda e: order[str(e.details.get("relation"))])


def read_symptoms(facts: Facts) -> Symptoms:
    return Symptoms(
        load=_load(facts),
        strains=_strains(facts),
        credentials=_credentials(facts),
        certificate_alarms=_certificate_alarms(facts),
        infra_alarms=_infra_alarms(facts),
        zone_errors=_named_by_errors(facts, symptoms.zones),
        host_errors=_named_by_errors(facts, symptoms.instances),
    )


# --- candidates ----------------------------------------------------------------------------------------------


def traffic_candidates(facts: Facts, found: Symptoms) -> list[Candidate]:
    load = found.load
    if not load.present:
        return []
    at = min((t for t in (load.onset, load.alarm_since) if t is not None), default=None)
    ids = [*load.shift_ids, *load.alarm_ids]
    return [Candidate(Category.TRAFFIC_SURGE, "", at, ids, "a traffic surge")]


def _strain_at(strain: Strain) -> datetime | None:
    """When the strain began: its first line or its first alarm that is not chronic."""
    times = [as_utc(e.at) for e in [*active_alarms(strain), *strain.logs] if e.at]
    return min(times, default=None)


def active_alarms(strain: Strain) -> list[Evidence]:
    """Its alarms (and the alarm metric's shift) that started within the last 6 hours."""
    return [e for e in strain.alarms if e.details.get("alarm_metric") or _active(e)]


def exhaustion_candidates(facts: Facts, found: Symptoms) -> list[Candidate]:
    result = []
    for resource, strain in sorted(found.strains.items()):
        ids = [e.id for e in [*strain.alarms, *strain.logs]]
        kinds = ", ".join(sorted(strain.kinds))
        label = f"{resource} is running out ({kinds})"
        tokens = frozenset({resource})
        result.append(Candidate(Category.RESOURCE_EXHAUSTION, resource, _strain_at(strain), ids, label, tokens))
    return result


def credential_culprit(facts: Facts, found: Symptoms) -> str | None:
    for alarm in found.certificate_alarms:
        certificate = _metric(alarm)[2].get("CertificateArn")
        if certificate:
            return str(certificate)
    # An AccessDenied names a principal or a resource, not the credential: only expired or rejected ones count.
    named_by = [f for f in found.credentials if f.kind != symptoms.DENIED]
    for failure in sorted(named_by, key=lambda f: (-f.strength, f.signature.id)):
        named = symptoms.credential_identifiers(texts(failure.signature))
        if named:
            return named[0]
    return None


def expiry_candidates(facts: Facts, found: Symptoms) -> list[Candidate]:
    if not found.credentials and not found.certificate_alarms:
        return []
    culprit = credential_culprit(facts, found) or ""
    signatures = [f.signature for f in sorted(found.credentials, key=lambda f: (-f.strength, f.signature.id))]
    ids = [e.id for e in [*signatures, *found.certificate_alarms]]
    at = min((as_utc(e.at) for e in signatures if e.at), default=None)
    label = f"an expired or rejected credential{f' ({culprit})' if culprit else ''}"
    tokens = frozenset({culprit}) if culprit else frozenset()
    return [Candidate(Category.CREDENTIAL_EXPIRY, culprit, at, ids, label, tokens)]


def infrastructure_culprit(found: Symptoms) -> str | None:
    """The zone the health alarms name, else the one zone the new errors name, else the same for hosts."""
    alarm_zones = sorted({a.zone for a in found.infra_alarms if a.zone})
    if len(alarm_zones) == 1:
        return alarm_zones[0]
    if len(found.zone_errors) == 1:
        return next(iter(found.zone_errors))
    alarm_hosts = sorted({a.host for a in found.infra_alarms if a.host})
    if len(alarm_hosts) == 1:
        return alarm_hosts[0]
    if len(found.host_errors) == 1:
        return next(iter(found.host_errors))
    return None


def infrastructure_candidates(facts: Facts, found: Symptoms) -> list[Candidate]:
    culprit = infrastructure_culprit(found)
    zonal = found.zone_errors.get(culprit or "", []) or found.host_errors.get(culprit or "", [])
    if not found.infra_alarms and not zonal:
        return []
    alarms = [a.alarm for a in sorted(found.infra_alarms, key=lambda a: (-a.specificity, a.alarm.id))]
    ids = [*(e.id for e in alarms), *zonal]
    at = min((as_utc(e.at) for e in alarms if e.at), default=None)
    label = f"an infrastructure failure{f' in {culprit}' if culprit else ''}"
    tokens = frozenset({culprit}) if culprit else frozenset()
    return [Candidate(Category.INFRASTRUCTURE, culprit or "", at, ids, label, tokens)]
