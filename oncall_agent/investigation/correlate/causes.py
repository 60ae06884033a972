"""Causes that are not a change of ours: a traffic surge, a resource running out, a credential that expired and
an infrastructure (AWS-side) failure. `read_symptoms` sorts what the evidence says about the state of things
(the tables are in `symptoms`); the `*_candidates` functions turn it into candidates:

- traffic_surge (no culprit: no single identifier names a surge): the load rose - the alarm's own metric is a
  load metric (RequestCount, Invocations...) that went up, the routine log lines (the requests the service
  serves every day) came faster, or a load alarm of the service is in ALARM.
- resource_exhaustion, one per resource: see `exhaustion`.
- credential_expiry without a change (culprit: the certificate of a DaysToExpiry alarm - of this service, else
  of a dependency it calls, whose server certificate it verifies - else the first identifier the failing lines
  name, else none): log lines that say a certificate, token, key or password expired or was rejected. (A
  rotation in CloudTrail is a change candidate: see `candidates`.)
- infrastructure (culprit: the availability zone, else the host or volume): health alarms of this service's
  resources (EC2 status checks, unhealthy targets, an AZ dimension) and new errors that all name one zone or one
  host. AWS Health events are not gathered by any source: zones and hosts are all the evidence there is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from oncall_agent.domain.evidence import Category, Evidence
from oncall_agent.domain.time import as_utc
from oncall_agent.investigation.correlate import relations, symptoms
from oncall_agent.investigation.correlate.candidates import Candidate, Facts, alarm_metric_class
from oncall_agent.investigation.correlate.cause_common import (
    INCREASED_SHARE,
    NOISY_LEVELS,
    active,
    bad_way,
    metric_of,
    own_shift,
    ratio,
    texts,
)
from oncall_agent.investigation.correlate.exhaustion import Strain, strains

MIN_LOAD_RATIO = 1.3
"""A load at least this many times its baseline is a rise worth a candidate."""
CERTIFICATE_METRICS = frozenset({"DaysToExpiry"})


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


# --- load ----------------------------------------------------------------------------------------------------


def _load(facts: Facts) -> Load:
    numeric: list[tuple[float, datetime, str]] = []
    own = own_shift(facts)
    metric = facts.ctx.alarm_metric
    own_is_load = metric is not None and symptoms.metric_class(metric.namespace, metric.name) == symptoms.LOAD
    if own is not None and own_is_load and own.details.get("direction") == "up" and own.at:
        numeric.append((ratio(own), as_utc(own.at), own.id))
    for item in facts.shifts:
        if item.details.get("derived") == "logs" and item.details.get("direction") == "up" and item.at:
            numeric.append((ratio(item), as_utc(item.at), item.id))
    for item in facts.neighbours:  # a surge seen only on the load balancer or the queue
        d = item.details
        # Work arriving counts as load: at the front door, and on a queue or stream the service consumes.
        arriving = d.get("role") in ("front", "self") or (d.get("role") == "behind" and d.get("bad_direction") == "up")
        if d.get("signal_kind") == "load" and arriving and d.get("detected") and d.get("direction") == "up" and item.at:
            numeric.append((ratio(item), as_utc(item.at), item.id))
    alarms = [
        e
        for e in facts.alarms
        if e.details.get("relation") in (relations.SELF, relations.RESOURCE)
        and alarm_metric_class(e) == symptoms.LOAD
        and active(e)
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
    if own is not None and metric is not None and own_class == symptoms.INFRASTRUCTURE and bad_way(own, metric.name):
        items.append(own)
    found = []
    for item in items:
        _, name, dimensions = metric_of(item)
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
    found = [e for e in facts.alarms if e.details.get("relation") in order and metric_of(e)[1] in CERTIFICATE_METRICS]
    return sorted(found, key=lambda e: order[str(e.details.get("relation"))])


def read_symptoms(facts: Facts) -> Symptoms:
    return Symptoms(
        load=_load(facts),
        strains=strains(facts),
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


# Resources that carry no credential of their own, named by the one that holds it: a mobile push endpoint by its
# SNS platform application (which holds the APNs certificate or the FCM key every endpoint of it uses).
_CREDENTIAL_HOLDERS = (
    (re.compile(r"^(arn:aws[\w-]*:sns:[\w-]+:\d{12}:)endpoint/([^/]+)/([^/]+)/[^/]+$"), r"\1app/\2/\3"),
)


def credential_holder(identifier: str) -> str:
    """The resource that holds the credential `identifier` names (itself, usually)."""
    for pattern, holder in _CREDENTIAL_HOLDERS:
        if pattern.match(identifier):
            return pattern.sub(holder, identifier)
    return identifier


def credential_culprit(facts: Facts, found: Symptoms) -> str | None:
    for alarm in found.certificate_alarms:
        certificate = metric_of(alarm)[2].get("CertificateArn")
        if certificate:
            return str(certificate)
    # An AccessDenied names a principal or a resource, not the credential: only expired or rejected ones count.
    named_by = [f for f in found.credentials if f.kind != symptoms.DENIED]
    for failure in sorted(named_by, key=lambda f: (-f.strength, f.signature.id)):
        named = symptoms.credential_identifiers(texts(failure.signature))
        if named:
            return credential_holder(named[0])
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
