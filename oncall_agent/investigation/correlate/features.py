"""Explainable features per candidate cause, each a number a person can check against the evidence.

Change candidates (deploys, configuration changes), all in [0, 1] unless noted:
- `proximity`: exp(-minutes from the change to the alarm / 30); 0 for a change after the alarm.
- `shift_alignment` in [-1, 1]: exp(-lag / 10) with lag = minutes from the change to the start of the alarm
  metric's shift; -1 when the shift had started more than 2 minutes before the change; 0 without a shift.
- `new_signatures_after`: exp(-delay / 10) for the first new error/warning log signature that appeared after
  the change (delay in minutes).
- `logs_mention_change`: 1 when a new or increased error or warning signature names the changed thing (image tag,
  task definition, resource id, port...), 0.5 when only routine lines do (a start-up banner with the version).
- `on_service`: 1 for a change of this service (or naming it), 0.5 for one naming an upstream dependency.
- `change_ticket`: 1 when a change request on the service (or on the dependency a change names) was open at
  the time of the change, give or take 15 minutes.
- `past_incident_match`: 1 when a past incident of the service had this category and a culprit of the same
  family (`checkout:126` for `checkout:118`), 0.5 for the category alone.
Counter-evidence (positive numbers, negative weights): `errors_predate_change` (share of new error signatures
that appeared before the change), `upstream_alarm_first` (an upstream dependency alarmed before our metric
moved), `superseded` (a later, at least as related change came before the shift), `overtaken` (this change came
more than 10 minutes before the shift and a later, at least as related one within 10 minutes of it: the trouble
began right after that one, not after this), `chronic_mention` (only chronic signatures name the changed thing),
`after_onset`.

Dependency candidates: `upstream_first` (1 when its alarm started before our metric shifted, sliding to 0.6
within two minutes after the shift, 0.6 between the shift and our alarm, 0.3 after; decaying for alarms 2 to 6
hours old), `logs_mention_dependency` (new or increased error/warning signatures name it; 0.5 when all of them
failed before reaching it, as a name that did not resolve), `past_incident_match`, `change_ticket` (a change
request on its CI active at onset); against: `chronic_alarm` (all its alarms older than 6 hours),
`chronic_mention`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from oncall_agent.domain.evidence import Category, Evidence
from oncall_agent.domain.time import as_utc
from oncall_agent.investigation.correlate import relations, taxonomy
from oncall_agent.investigation.correlate.candidates import CHRONIC_ALARM_MINUTES, Candidate, Facts

PROXIMITY_MINUTES = 30.0
LAG_MINUTES = 10.0
SLACK_MINUTES = 2.0  # change points and log timestamps are per-minute: allow that much disorder
ALIGNED_ALARM_MINUTES = 120.0
NOISY_LEVELS = ("ERROR", "WARN")


@dataclass
class Scored:
    candidate: Candidate
    features: dict[str, float]
    evidence_for: list[str] = field(default_factory=list)
    evidence_against: list[str] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)  # phrases for the summary


def _minutes(later: datetime, earlier: datetime) -> float:
    return (as_utc(later) - as_utc(earlier)).total_seconds() / 60


def span(minutes: float) -> str:
    """A duration as a person says it: `9 min`, `2.5 h`, `3 days`."""
    minutes = abs(minutes)
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h" if minutes < 48 * 60 else f"{minutes / 1440:.0f} days"


def _texts(item: Evidence) -> list[str]:
    return [str(item.details.get("template", "")), *map(str, item.details.get("samples") or [])]


def _failed_before_peer(item: Evidence) -> bool:
    """The signature's primary symptom is a call that failed before it reached its peer (see the taxonomy)."""
    for text in _texts(item):
        found = taxonomy.matching(text)
        if found:
            return found[0].before_peer
    return False


def _noisy(item: Evidence) -> bool:
    return item.details.get("level") in NOISY_LEVELS


def _since(item: Evidence, moment: datetime) -> float:
    """Minutes from `moment` to when `item` happened (0 for an item without a time)."""
    return _minutes(item.at, moment) if item.at else 0.0


def _new_signature_features(at: datetime, facts: Facts, scored: Scored) -> None:
    new_errors = [e for e in facts.signatures if e.details.get("new") and _noisy(e) and e.at is not None]
    after = [e for e in new_errors if _since(e, at) >= -SLACK_MINUTES / 2]
    before = [e for e in new_errors if e not in after]
    if after:
        delay = max(0.0, min(_since(e, at) for e in after))
        scored.features["new_signatures_after"] = round(math.exp(-delay / LAG_MINUTES), 3)
        if delay <= 3 * LAG_MINUTES:
            scored.notes["new_signatures_after"] = f"new errors appeared {span(delay)} after it"
        # Cite only errors that followed soon enough to be its effect, not everything later.
        scored.evidence_for += [e.id for e in after if _since(e, at) <= 3 * LAG_MINUTES]
    scored.features["errors_predate_change"] = round(len(before) / len(new_errors), 3) if new_errors else 0.0
    scored.evidence_against += [e.id for e in before]


def _mention_features(cand: Candidate, at: datetime, facts: Facts, scored: Scored) -> None:
    recent = [e for e in facts.signatures if _since(e, at) >= -SLACK_MINUTES]
    hits = [e for e in recent if relations.mentions(_texts(e), cand.tokens)]
    named = sorted({t for e in hits for t in relations.mentions(_texts(e), cand.tokens)})
    # An error naming the change says it broke something; a routine line naming it (a start-up banner with the
    # version) only says it is running: half.
    scored.features["logs_mention_change"] = 1.0 if any(_noisy(e) for e in hits) else 0.5 if hits else 0.0
    if hits:
        scored.notes["logs_mention_change"] = f"new log lines name {', '.join(named[:3])}"
        scored.evidence_for += [e.id for e in hits if e.id not in scored.evidence_for]
    chronic = [e for e in facts.chronic if relations.mentions(_texts(e), cand.tokens)]
    scored.features["chronic_mention"] = 1.0 if chronic and not hits else 0.0
    scored.evidence_against += [e.id for e in chronic]


def _timing_features(at: datetime, facts: Facts, scored: Scored) -> None:
    before_onset = _minutes(facts.ctx.onset, at)
    scored.features["after_onset"] = 1.0 if before_onset < 0 else 0.0
    scored.features["proximity"] = round(math.exp(-before_onset / PROXIMITY_MINUTES), 3) if before_onset >= 0 else 0.0
    scored.notes["proximity"] = f"{span(before_onset)} {'before' if before_onset >= 0 else 'after'} the alarm"
    if facts.shift_at is None:
        scored.features["shift_alignment"] = 0.0
        return
    lag = _minutes(facts.shift_at, at)
    if lag < -SLACK_MINUTES:
        scored.features["shift_alignment"] = -1.0
        scored.notes["shift_alignment"] = f"the alarm metric had already shifted {span(lag)} before it"
        scored.evidence_against += [e.id for e in facts.shifts if e.details.get("detected")]
    else:
        scored.features["shift_alignment"] = round(math.exp(-max(lag, 0.0) / LAG_MINUTES), 3)
        if lag <= 3 * LAG_MINUTES:
            scored.notes["shift_alignment"] = f"the alarm metric shifted {span(max(lag, 0.0))} after it"
            scored.evidence_for += [e.id for e in facts.shifts if e.details.get("detected")]


def _past_match(category: Category, culprit: str, facts: Facts) -> tuple[float, list[str]]:
    best, ids = 0.0, []
    family = culprit.split(":", maxsplit=1)[0].lower()
    for item in facts.past:
        resolution = item.details.get("resolution") or {}
        if resolution.get("category") != category.value:
            continue
        past_culprit = str(resolution.get("culprit") or "").lower()
        score = 1.0 if past_culprit and past_culprit.split(":")[0] == family else 0.5
        best = max(best, score)
        ids.append(item.id)
    return best, ids


def past_features(cand: Candidate, facts: Facts, scored: Scored) -> None:
    past, past_ids = _past_match(cand.category, cand.culprit, facts)
    scored.features["past_incident_match"] = past
    scored.evidence_for += past_ids
    if past >= 1.0:
        scored.notes["past_incident_match"] = "a past incident of this service had the same kind of cause"


def _ticket_open(facts: Facts, relation: str, at: datetime, ci: set[str] | None = None) -> list[Evidence]:
    """Change requests on `relation` CIs (optionally only `ci`) whose window contains `at` (with slack)."""
    found = []
    for item in facts.tickets:
        d = item.details
        if d.get("kind") != "change_request" or d.get("relation") != relation or not d.get("start"):
            continue
        if ci is not None and d.get("ci") not in ci:
            continue
        start = datetime.fromisoformat(str(d["start"]))
        end = datetime.fromisoformat(str(d["end"])) if d.get("end") else None
        if _minutes(at, start) >= -15 and (end is None or _minutes(end, at) >= -15):
            found.append(item)
    return found


def _ticket_features(tickets: list[Evidence], scored: Scored) -> None:
    scored.features["change_ticket"] = 1.0 if tickets else 0.0
    scored.evidence_for += [t.id for t in tickets]
    if tickets:
        scored.notes["change_ticket"] = f"change request {tickets[0].details.get('number')} was open"


def upstream_first(alarms: list[Evidence], facts: Facts) -> tuple[float, Evidence | None]:
    """How strongly the timing of a dependency's alarms says it failed first (see the module docstring), and
    the alarm that says it most."""
    reference_lead = _minutes(facts.ctx.onset, facts.reference)
    best, best_alarm = 0.0, None
    for item in sorted(alarms, key=lambda e: -float(e.details.get("minutes_before_onset") or 0.0)):
        lead = float(item.details.get("minutes_before_onset") or 0.0)
        if lead > CHRONIC_ALARM_MINUTES:
            score = 0.0
        elif lead > ALIGNED_ALARM_MINUTES:
            score = 0.5 * (CHRONIC_ALARM_MINUTES - lead) / (CHRONIC_ALARM_MINUTES - ALIGNED_ALARM_MINUTES)
        elif lead >= reference_lead - SLACK_MINUTES / 2:
            score = 1.0
        elif lead >= 0:
            # Per-minute data puts "just before" and "just after" our shift a minute either way: the score slides
            # from 1 to 0.6 over the next SLACK_MINUTES rather than jumping at a boundary.
            behind = (reference_lead - SLACK_MINUTES / 2 - lead) / SLACK_MINUTES
            score = max(0.6, 1.0 - 0.4 * behind)
        else:
            score = 0.3
        if score > best:
            best, best_alarm = score, item
    return round(best, 3), best_alarm


def _overtaken_feature(at: datetime, later: list[Candidate], facts: Facts, scored: Scored) -> None:
    """`overtaken`: the alarm metric moved long after this change (more than LAG_MINUTES) but soon after a later
    change (within LAG_MINUTES): whatever this change did, it ran clean until the other one came."""
    shift = facts.shift_at
    if shift is None or _minutes(shift, at) <= LAG_MINUTES:
        scored.features["overtaken"] = 0.0
        return
    closer = [o for o in later if o.at and _minutes(shift, o.at) <= LAG_MINUTES]
    scored.features["overtaken"] = 1.0 if closer else 0.0
    if closer:
        lag = span(_minutes(shift, at))
        scored.notes["overtaken"] = f"but the alarm metric moved {lag} after it, right after {closer[-1].label}"


def change_features(cand: Candidate, facts: Facts, others: list[Candidate], upstream: float) -> Scored:
    """Features of a deploy or configuration change (`others`: every change candidate, `upstream`: the best
    upstream_first of any dependency)."""
    scored = Scored(cand, {"on_service": cand.on_service}, evidence_for=list(cand.evidence_ids))
    at = cand.at
    if at is None:
        return scored
    _timing_features(at, facts, scored)
    _new_signature_features(at, facts, scored)
    _mention_features(cand, at, facts, scored)
    scored.features["upstream_alarm_first"] = 1.0 if upstream >= 0.6 else 0.0
    if upstream >= 0.6:
        scored.notes["upstream_alarm_first"] = "but an upstream dependency alarmed first"
        scored.evidence_against += [
            e.id
            for e in facts.alarms
            if e.details.get("relation") == relations.UPSTREAM
            and 0 <= float(e.details.get("minutes_before_onset") or 0.0) <= ALIGNED_ALARM_MINUTES
        ]
    later = [
        o for o in others if o is not cand and o.at and at < o.at <= facts.reference and o.on_service >= cand.on_service
    ]
    scored.features["superseded"] = 1.0 if later else 0.0
    if later:
        scored.notes["superseded"] = f"a later change ({later[-1].label}) came closer to the shift"
    scored.evidence_against += [o.evidence_ids[0] for o in later]
    _overtaken_feature(at, later, facts, scored)
    past_features(cand, facts, scored)
    relation = relations.SELF if cand.on_service >= 1.0 else relations.UPSTREAM
    _ticket_features(_ticket_open(facts, relation, at) if cand.on_service > 0 else [], scored)
    return scored


def dependency_features(cand: Candidate, facts: Facts) -> Scored:
    """Features of an upstream dependency in ALARM."""
    scored = Scored(cand, {}, evidence_for=list(cand.evidence_ids))
    alarms = [e for e in facts.alarms if e.id in cand.evidence_ids]
    scored.features["upstream_first"], first = upstream_first(alarms, facts)
    leads = [float(e.details.get("minutes_before_onset") or 0.0) for e in alarms]
    if first is not None:
        lead = float(first.details.get("minutes_before_onset") or 0.0)
        order = "before" if lead >= 0 else "after"
        scored.notes["upstream_first"] = f"its alarm {first.entity} started {span(lead)} {order} ours"
        scored.evidence_for.remove(first.id)
        scored.evidence_for.insert(0, first.id)
    scored.features["chronic_alarm"] = 1.0 if leads and min(leads) > CHRONIC_ALARM_MINUTES else 0.0
    if scored.features["chronic_alarm"]:
        scored.notes["upstream_first"] = f"it has been alarming for {span(min(leads))} already (chronic)"
    entry = facts.ctx.catalog_entry(cand.culprit)
    names = relations.service_names(entry) if entry else {cand.culprit}
    noisy = [e for e in facts.signatures if _noisy(e)]
    hits = [e for e in noisy if relations.mentions(_texts(e), names, right_edge=False)]
    unreached = [e for e in hits if _failed_before_peer(e)]
    # Lines that could not even resolve its name say nothing of its health: half the weight.
    scored.features["logs_mention_dependency"] = (0.5 if len(unreached) == len(hits) else 1.0) if hits else 0.0
    if hits:
        scored.notes["logs_mention_dependency"] = f"{len(hits)} new or increased error signatures name it" + (
            " (but could not resolve its name)" if len(unreached) == len(hits) else ""
        )
    scored.evidence_for += [e.id for e in hits]
    chronic = [e for e in facts.chronic if relations.mentions(_texts(e), names, right_edge=False)]
    scored.features["chronic_mention"] = 1.0 if chronic and not hits else 0.0
    scored.evidence_against += [e.id for e in chronic]
    past_features(cand, facts, scored)
    cis = {ci for ci in (entry.servicenow_ci, entry.repo) if ci} if entry else {cand.culprit}
    tickets = _ticket_open(facts, relations.UPSTREAM, as_utc(facts.ctx.onset), cis)
    _ticket_features(tickets, scored)
    return scored
