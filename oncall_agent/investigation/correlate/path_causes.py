"""Causes read off the neighbourhood timeline (`timeline`), the way an SRE reads the dashboards of a service's
path: what moved first, where on the path it sits, and what it can explain.

One candidate per troubled place, never for the alarmed service's own compute (the other rules judge that):
- a resource behind the service (database, proxy, cache, queue, table, search domain, NAT gateway, link) whose
  signals moved the bad way or that an AWS feed reports in trouble: `resource_exhaustion` when it belongs to the
  service and ran out (saturation, a limit reached), `infrastructure` when AWS reports it failed over, is
  impaired or in maintenance, else `dependency` (it belongs to another team). Culprit: the resource id;
- a dependency of the catalog unhealthy by its own signals (its load balancer's errors, its function's errors
  and latency) with none of its resources moving first: `dependency`, culprit the dependency's name;
- an AWS Health issue in the region that names no resource of ours: `infrastructure`, culprit the event type;
- a certificate AWS warned about (an expiry notice names it): `credential_expiry`, culprit the certificate; it
  fits when TLS handshakes started failing at our front door about the onset (the notice's age is no counter).

Features (all in [0, 1]), weighed by PATH_WEIGHTS in a logistic like every other candidate (see `rank`):
`moved_first` (its first anomaly came no later than the alarm metric's shift: 1; within the evaluation window after
it: 0.5), `limit_reached` (a published hard limit was reached within the hour before the onset), `slow_burn` (it
climbed for 30 minutes or more before reaching that limit: a warning that was on for hours is not background when
the hard limit is crossed at the onset; a limit reached earlier in such a climb and still held at the onset counts
as reached too), `aws_event` (AWS's own feed reports it), `errors_fit` (our new errors name it, or are of the class
its AWS event reports - DNS failures while AWS reports DNS resolution failing: 1; of a class its trouble produces:
0.5), `signals` (how many more of its signals moved, up to two: each 0.5). Against:
`consequence` (everything it shows started after our alarm), `elsewhere` (AWS confines it to one zone and the
resources behind us sit in others: see `zones`), `chronic` (it was already so more than 6 hours ago and
reached no limit now) and `change_explains` (the best change that came before its first anomaly and could cause
it; when that change is credible, 0.5 or more, `limit_reached` counts only as much as it is in doubt: the limit is
how the change did harm), `load_explains` (more traffic arrived first: 1 at 1.8 times the baseline; not when it ran
out of something finite - connections, ports, storage - which is then the cause to fix; a CPU at 100% is busy, not
out).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from oncall_agent.domain.evidence import Category, Evidence
from oncall_agent.domain.neighbourhood import BEHIND, DEPENDENCY_PREFIX, FRONT, SELF, role_of_type
from oncall_agent.domain.time import as_utc
from oncall_agent.investigation.correlate import relations, symptoms, taxonomy, zones
from oncall_agent.investigation.correlate.candidates import Candidate, Facts
from oncall_agent.investigation.correlate.cause_common import texts
from oncall_agent.investigation.correlate.features import Scored, past_features, span
from oncall_agent.investigation.correlate.timeline import Anomaly

PATH_WEIGHTS = {
    "moved_first": 2.0,
    "limit_reached": 1.5,
    "slow_burn": 0.5,
    "aws_event": 1.5,
    "errors_fit": 1.5,
    "signals": 0.5,
    "past_incident_match": 0.6,
    "consequence": -2.0,
    "chronic": -1.5,
    "change_explains": -2.5,
    "load_explains": -2.0,
    "elsewhere": -1.0,
}
SLACK = timedelta(minutes=2)
EVALUATION = timedelta(minutes=5)
LIMIT_WINDOW = timedelta(hours=1)
CHRONIC = timedelta(hours=6)
CREDIBLE_CHANGE = 0.5  # a change at least this confident is named as the cause (the default abstention threshold)
_TROUBLE = frozenset({"saturation", "errors", "latency", "health", "blocked"})
_FAILED = frozenset({"failover", "outage", "maintenance"})  # event classes that say the platform failed


@dataclass(frozen=True)
class Place:
    """A troubled place on the path: one resource, or one dependency's own signals."""

    key: str  # the culprit
    category: Category
    anomalies: list[Anomaly]
    label: str
    names: frozenset[str]  # what our log lines would call it
    dependency: str  # the catalog dependency it belongs to ("" for ours and for AWS events)


def _dependency_of(role: str) -> str | None:
    return role[len(DEPENDENCY_PREFIX) :] if role.startswith(DEPENDENCY_PREFIX) else None


def _resource_category(anomalies: list[Anomaly], ours: bool) -> Category:
    if any(a.event and a.what == "certificate" for a in anomalies):
        return Category.CREDENTIAL_EXPIRY
    if any(a.event and a.what in _FAILED for a in anomalies):
        return Category.INFRASTRUCTURE
    return Category.RESOURCE_EXHAUSTION if ours else Category.DEPENDENCY


def _names(resource: str, owner: str) -> frozenset[str]:
    parts = {resource, resource.rsplit("/", 1)[-1]}
    if resource.count("/") == 2:  # app/name/hash, targetgroup/name/hash: logs say the name
        parts.add(resource.split("/")[1])
    return frozenset(p for p in parts | {owner} if p)


def _where(item: Anomaly) -> tuple[str, str] | None:
    """('resource', id) for a resource behind a service (ours or a dependency's) or our own compute named by an
    AWS event; ('dependency', name) for a dependency's compute or front door; ('aws', id) for an AWS event on
    nothing we know; None for the rest (our front door and our own signals: other rules read those)."""
    dependency = _dependency_of(item.role)
    placed = role_of_type(item.resource_type) if item.resource_type else BEHIND
    if item.role == BEHIND or (item.role == SELF and item.event) or (dependency and placed == BEHIND):
        return "resource", item.resource
    if dependency:
        return "dependency", dependency
    if not item.role and item.event and item.what == "outage":  # an AWS issue, not a maintenance elsewhere
        return "aws", item.resource
    if not item.role and item.event and item.what == "certificate":  # a certificate AWS warned about
        return "certificate", item.resource
    return None


def _place(kind: str, key: str, items: list[Anomaly], facts: Facts) -> Place:
    service = facts.ctx.service.name
    first = items[0]
    if kind == "dependency":
        entry = facts.ctx.catalog_entry(key)
        names = relations.service_names(entry) if entry else {key}
        return Place(key, Category.DEPENDENCY, items, f"dependency {key}", frozenset(names), key)
    if kind == "aws":
        return Place(key, Category.INFRASTRUCTURE, items, f"AWS event {key}", frozenset(), "")
    if kind == "certificate":
        return Place(key, Category.CREDENTIAL_EXPIRY, items, f"certificate {key}", _names(key, ""), "")
    # A dependency the catalog does not describe (a database, a cache named in `depends_on`) is a resource of
    # this service, named as the catalog names it.
    unlisted = bool(first.owner) and first.owner != service and facts.ctx.catalog_entry(first.owner) is None
    ours = first.owner in ("", service) or unlisted
    culprit = service if first.role == SELF else (first.owner if unlisted else key)
    return Place(
        culprit, _resource_category(items, ours), items, key, _names(key, first.owner), "" if ours else first.owner
    )


def places(timeline: list[Anomaly], facts: Facts) -> list[Place]:
    """The troubled places, the one whose first anomaly came first first."""
    grouped: dict[tuple[str, str], list[Anomaly]] = {}
    for item in timeline:
        where = _where(item) if item.kind in _TROUBLE else None
        if where is not None:
            grouped.setdefault(where, []).append(item)
    found = [_place(kind, key, items, facts) for (kind, key), items in grouped.items()]
    return sorted(found, key=lambda p: (p.anomalies[0].at, p.key))


def _reference(facts: Facts) -> datetime:
    return as_utc(facts.reference)


def _timing(place: Place, facts: Facts, scored: Scored) -> None:
    first = place.anomalies[0]
    lead = (_reference(facts) - first.at).total_seconds() / 60
    onset = as_utc(facts.ctx.onset)
    if first.at <= _reference(facts) + SLACK:
        scored.features["moved_first"] = 1.0
        scored.notes["moved_first"] = f"{first.what} of {first.resource} went bad {span(max(lead, 0.0))} before ours"
    elif first.at <= onset + EVALUATION:
        scored.features["moved_first"] = 0.5
    else:
        scored.features["consequence"] = 1.0
        scored.notes["consequence"] = "but it moved only after our alarm"
    limits = [a for a in place.anomalies if a.limit_at and at_limit_at_onset(a, onset)]
    if limits:
        scored.features["limit_reached"] = 1.0
        scored.notes["limit_reached"] = f"{limits[0].what} reached its limit at {limits[0].limit_at:%H:%M}Z"
        scored.features["slow_burn"] = 1.0 if any(a.slow_burn for a in limits) else 0.0
    elif first.at < onset - CHRONIC:
        scored.features["chronic"] = 1.0
        scored.notes["chronic"] = f"but {first.what} has been so for {span(lead)}"


def at_limit_at_onset(anomaly: Anomaly, onset: datetime) -> bool:
    """It reached its hard limit about the onset, or reached it earlier in a slow burn and is still there: a
    disk that filled for hours and sits full when the errors start is the cause, not background."""
    if anomaly.limit_at is None:
        return False
    if abs(anomaly.limit_at - onset) <= LIMIT_WINDOW:
        return True
    return anomaly.at_limit_now and anomaly.slow_burn and onset - CHRONIC <= anomaly.limit_at <= onset


def event_text(facts: Facts, evidence_ids: list[str]) -> str:
    """The words of AWS's events among `evidence_ids` (what the status page says is wrong)."""
    wanted = set(evidence_ids)
    return " ".join(str(e.details.get("message") or e.summary) for e in facts.events if e.id in wanted)


def _reported_by_event(place: Place, facts: Facts, noisy: list[Evidence]) -> list[tuple[Evidence, str]]:
    """Our new error signatures whose class an AWS event of this place describes (DNS resolution failures while
    AWS reports DNS resolution failing): the event reports what our lines show, not merely a failed call."""
    text = event_text(facts, [a.evidence_id for a in place.anomalies if a.event])
    if not text:
        return []
    found = []
    for item in noisy:
        match = next((c for t in texts(item) for c in taxonomy.matching(t) if c.reported_in(text)), None)
        if match is not None:
            found.append((item, match.name))
    return found


def _errors_fit(place: Place, facts: Facts, scored: Scored) -> None:
    noisy = [e for e in facts.signatures if e.details.get("level") in ("ERROR", "WARN")]
    named = [e for e in noisy if place.names and relations.mentions(texts(e), set(place.names), right_edge=False)]
    if named:
        scored.features["errors_fit"] = 1.0
        scored.notes["errors_fit"] = f"{len(named)} new error signature(s) of ours name it"
        scored.evidence_for += [e.id for e in named]
        return
    reported = _reported_by_event(place, facts, noisy)
    if reported:
        scored.features["errors_fit"] = 1.0
        scored.notes["errors_fit"] = f"our new errors are {reported[0][1].replace('_', ' ')}s, which AWS reports"
        scored.evidence_for += [e.id for e, _ in reported[:3]]
        return
    families = ("credential",) if place.category is Category.CREDENTIAL_EXPIRY else ("exhaustion", "call_failure")
    fitting = [e for e in noisy if any(c.family in families for t in texts(e) for c in taxonomy.matching(t))]
    scored.features["errors_fit"] = 0.5 if fitting else 0.0
    if fitting:
        scored.notes["errors_fit"] = "our new errors are failed or refused calls"
        scored.evidence_for += [e.id for e in fitting[:3]]


def _handshakes_fail(place: Place, facts: Facts, timeline: list[Anomaly], scored: Scored) -> None:
    """A certificate AWS warned about, and TLS handshakes failing at our front door since about the onset: the
    warning came true (`errors_fit`; the warning's age is not chronic trouble)."""
    onset = as_utc(facts.ctx.onset)
    failing = [a for a in timeline if a.role == FRONT and "TLS" in a.what and abs(a.at - onset) <= LIMIT_WINDOW]
    for name in ("chronic", "moved_first"):  # a notice warns ahead: its age says nothing, the failures do
        scored.features.pop(name, None)
        scored.notes.pop(name, None)
    if failing:
        scored.features["moved_first"] = 1.0 if failing[0].at <= _reference(facts) + SLACK else 0.5
        scored.features["errors_fit"] = 1.0
        scored.notes["errors_fit"] = f"TLS handshakes fail at {failing[0].resource} since {failing[0].at:%H:%M}Z"
        scored.evidence_for.append(failing[0].evidence_id)


def _zone_elsewhere(place: Place, facts: Facts, scored: Scored) -> None:
    """`elsewhere`: an AWS issue on nothing of ours, confined to one zone while what is behind us sits in others
    (see `zones`)."""
    if place.names or place.dependency or place.category is not Category.INFRASTRUCTURE:
        return
    found = zones.elsewhere(facts, [a.evidence_id for a in place.anomalies if a.event])
    scored.features["elsewhere"] = 1.0 if found else 0.0
    if found:
        scored.notes["elsewhere"] = f"but it is confined to {found[0]} and {found[1]} sits in {found[2]}"


def _load_explains(place: Place, load: tuple[float, datetime] | None, scored: Scored) -> None:
    """More traffic that arrived no later than this place went bad explains its strain better (how much more:
    as `load_up`, 1 at 1.8 times the baseline)."""
    if load is None or place.category is Category.INFRASTRUCTURE or load[1] > place.anomalies[0].at + SLACK:
        return
    # It ran out of something finite (connections, ports, storage): the exhaustion is the cause to fix. Busy
    # at 100% CPU is not running out: more traffic explains it.
    if any(a.limit_at and a.what not in symptoms.BUSY_METRICS for a in place.anomalies):
        return
    scored.features["load_explains"] = round(min(1.0, max(0.0, (load[0] - 1.0) / 0.8)), 3)
    if scored.features["load_explains"]:
        scored.notes["load_explains"] = f"but traffic rose {load[0]:.1f} times first"


def path_features(
    place: Place,
    facts: Facts,
    change_best: tuple[float, str, datetime | None] | None,
    timeline: list[Anomaly] | None = None,
    load: tuple[float, datetime] | None = None,
) -> Scored:
    ids = list(dict.fromkeys(a.evidence_id for a in place.anomalies))
    cand = Candidate(place.category, place.key, place.anomalies[0].at, ids, place.label, place.names)
    scored = Scored(cand, {}, evidence_for=list(ids))
    _timing(place, facts, scored)
    events = [a for a in place.anomalies if a.event]
    scored.features["aws_event"] = 1.0 if events else 0.0
    if events:
        scored.notes["aws_event"] = f"AWS reports {events[0].what} of {events[0].resource}"
    scored.features["signals"] = min(2.0, float(len({a.what for a in place.anomalies}) - 1))
    _errors_fit(place, facts, scored)
    _zone_elsewhere(place, facts, scored)
    if place.category is Category.CREDENTIAL_EXPIRY and not place.dependency and timeline is not None:
        _handshakes_fail(place, facts, timeline, scored)
    past_features(cand, facts, scored)
    _load_explains(place, load, scored)
    confidence, label, at = change_best or (0.0, "", None)
    if at is not None and at <= place.anomalies[0].at + SLACK:
        scored.features["change_explains"] = round(confidence, 3)
        if confidence >= 0.3:
            scored.notes["change_explains"] = f"but {label} came before it"
        _limit_explained(scored, confidence)
    return scored


def _limit_explained(scored: Scored, change_confidence: float) -> None:
    """A limit reached after a change credible enough to be named (CREDIBLE_CHANGE) is how the change did harm (a
    bigger pool per task fills the database's connections), not a cause of its own: it counts only as much as the
    change is in doubt. A weaker change (a log retention policy that cannot break requests) takes nothing from it
    beyond `change_explains`."""
    if scored.features.get("limit_reached") and change_confidence >= CREDIBLE_CHANGE:
        scored.features["limit_reached"] = round(scored.features["limit_reached"] * (1.0 - change_confidence), 3)
