"""Upstream dependencies that only our own logs say are failing: a third-party API (a carrier, a payment
provider, an identity provider) that no alarm of ours watches, or a dependency whose alarms did not fire. An
on-call engineer reads the new errors: when the first of them, from the moment our metric moved, are calls to
one declared dependency failing, and nothing of ours changed just before, the dependency is the suspect.

Candidates: each name in the service's `depends_on` (a catalog service goes by its catalog names) that has no
alarm in ALARM (an alarmed dependency is a candidate of `candidates.dependency_candidates`; a resource with a
saturation alarm is a resource-exhaustion candidate) and that new or increased error or warning signatures name
at identifier boundaries (`apis.fedex.com` names `fedex`). Lines of a symptom class that suggests a cause (a
capacity ran out, a credential failed, a host broke) are left out: those say what failed, and `causes` weighs them.
The failed-call classes the lines show (timeouts, refused connections, DNS failures...) are named in the note.

Features, in [0, 1]:
- `dependency_errors_first`: 1 when the earliest new error or warning signature names it and started no later
  than the alarm metric's shift (2 minutes slack); 0.5 when a new signature naming it started by then but
  another new error came first; else 0.
- `logs_mention_dependency`: 1 (new or increased error signatures name it: that is what makes it a candidate).
- `past_incident_match` as for the other candidates.
Against it: `other_cause_explains`, the best confidence of any other candidate but a dependency - a change of
ours (a deploy or a setting can break the calls to a dependency), more load, a resource running out, an
expired credential, a zone or host failure: failing calls are what all of these look like from our side, so
a dependency that only our logs name is the suspect only when nothing else explains them.

Change candidates get `upstream_errors_first` against them (1 when some such dependency has
`dependency_errors_first` 1 and no upstream alarm came first: `upstream_alarm_first` already says it then).
"""

from __future__ import annotations

from datetime import datetime

from oncall_agent.domain.evidence import Category, Evidence
from oncall_agent.domain.time import as_utc
from oncall_agent.investigation.correlate import relations, symptoms
from oncall_agent.investigation.correlate.candidates import Candidate, Facts
from oncall_agent.investigation.correlate.cause_common import texts
from oncall_agent.investigation.correlate.dependency_cause import DIAGNOSED_WEIGHT
from oncall_agent.investigation.correlate.features import SLACK_MINUTES, Scored, past_features, span

LOG_DEPENDENCY_WEIGHTS = {
    "dependency_errors_first": 2.6,
    "logs_mention_dependency": 1.5,
    "past_incident_match": 0.6,
    "other_cause_explains": -2.5,
    "dependency_diagnosed": DIAGNOSED_WEIGHT,
}
"""Calibration: new errors naming it that came first, with nothing else, about 0.75; a change of ours with 0.5
confidence takes it below the abstention line."""
UPSTREAM_ERRORS_FIRST_WEIGHT = -1.0
"""Against a change candidate: weaker than an upstream alarm (-1.5), since a change can break the calls too."""


def _call_failures(facts: Facts) -> list[Evidence]:
    """New or increased error and warning signatures whose symptom classes suggest no cause of their own (not a
    capacity that ran out, a credential that failed, a host that broke): failed calls, or nothing classified."""
    return [
        e
        for e in facts.signatures
        if e.details.get("level") in ("ERROR", "WARN") and not symptoms.suggested_causes(texts(e))
    ]


def _alarmed(facts: Facts) -> set[str]:
    return {
        str(e.details["service"])
        for e in facts.alarms
        if e.details.get("relation") == relations.UPSTREAM and e.details.get("service")
    }


def _names(name: str, facts: Facts) -> set[str]:
    entry = facts.ctx.catalog_entry(name)
    return relations.service_names(entry) if entry else {name}


def log_dependency_candidates(facts: Facts) -> list[Candidate]:
    """Declared dependencies without an alarm that the new errors name (see the module docstring), by name."""
    failures, alarmed = _call_failures(facts), _alarmed(facts)
    found = []
    for name in sorted(set(facts.ctx.service.depends_on) - alarmed):
        names = _names(name, facts)
        hits = [e for e in failures if relations.mentions(texts(e), names)]
        if not hits:
            continue
        timed = [as_utc(e.at) for e in hits if e.at is not None]
        label = f"upstream dependency {name} (named by our new errors)"
        found.append(
            Candidate(
                Category.DEPENDENCY, name, min(timed, default=None), [e.id for e in hits], label, frozenset(names)
            )
        )
    return found


def _new_errors(facts: Facts) -> list[tuple[datetime, Evidence]]:
    """New error and warning signatures with when they began, earliest first."""
    noisy = [e for e in facts.signatures if e.details.get("level") in ("ERROR", "WARN") and e.details.get("new")]
    return sorted(((as_utc(e.at), e) for e in noisy if e.at is not None), key=lambda pair: (pair[0], pair[1].id))


def errors_first(cand: Candidate, facts: Facts) -> float:
    """`dependency_errors_first` (see the module docstring)."""
    new = _new_errors(facts)
    named = [began for began, e in new if e.id in cand.evidence_ids]
    if not named or (named[0] - as_utc(facts.reference)).total_seconds() / 60 > SLACK_MINUTES:
        return 0.0
    return 1.0 if (named[0] - new[0][0]).total_seconds() / 60 <= SLACK_MINUTES / 2 else 0.5


def log_dependency_features(cand: Candidate, facts: Facts) -> Scored:
    """The features of a dependency only our logs name, before the counter-evidence (`explained_by_other`)."""
    scored = Scored(cand, {"logs_mention_dependency": 1.0}, evidence_for=list(cand.evidence_ids))
    scored.features["dependency_errors_first"] = errors_first(cand, facts)
    hits = len(cand.evidence_ids)
    seen = symptoms.call_failures([t for e in facts.signatures if e.id in cand.evidence_ids for t in texts(e)])
    shown = f" ({', '.join(name.replace('_', ' ') for name in seen)})" if seen else ""
    scored.notes["logs_mention_dependency"] = (
        f"{hits} new or increased error signatures name it{shown}, with no alarm of it"
    )
    if scored.features["dependency_errors_first"] >= 1.0 and cand.at is not None:
        lead = (as_utc(facts.reference) - as_utc(cand.at)).total_seconds() / 60
        when = f"{span(lead)} before" if lead > SLACK_MINUTES / 2 else "as"
        scored.notes["dependency_errors_first"] = (
            f"the first new errors were failed calls to it, {when} our metric moved"
        )
    past_features(cand, facts, scored)
    return scored


def explained_by_other(scored: Scored, best: tuple[float, str] | None) -> None:
    """`other_cause_explains`: the best confidence of any other cause but a dependency (module docstring)."""
    confidence, label = best or (0.0, "")
    scored.features["other_cause_explains"] = round(confidence, 3)
    if confidence >= 0.3:
        scored.notes["other_cause_explains"] = f"but {label} explains the failing calls as well"


def upstream_errors_first(scored: Scored, dependencies: list[Scored]) -> None:
    """The counter-feature a change candidate gets from dependencies only our logs name (module docstring)."""
    leading = [d for d in dependencies if d.features.get("dependency_errors_first", 0.0) >= 1.0]
    value = 1.0 if leading and not scored.features.get("upstream_alarm_first") else 0.0
    scored.features["upstream_errors_first"] = value
    if value:
        scored.notes["upstream_errors_first"] = (
            f"but the first new errors were failed calls to {leading[0].candidate.culprit}"
        )
        scored.evidence_against += [i for i in leading[0].candidate.evidence_ids if i not in scored.evidence_against]
