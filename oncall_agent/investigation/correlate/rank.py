"""Rank root-cause hypotheses: one per candidate cause, scored by a weighted logistic over its features.

    confidence = 1 / (1 + exp(-(bias + sum(weight[f] * feature[f]))))

with the weights below (features are defined in `features` and `cause_features`; counter-evidence has negative
weights). Each kind of candidate has its weights: deploys and config changes CHANGE_WEIGHTS, credential
rotations CREDENTIAL_CHANGE_WEIGHTS, upstream dependencies DEPENDENCY_WEIGHTS (and, for a dependency only our logs
name, `log_dependency.LOG_DEPENDENCY_WEIGHTS`), and the causes without a change of ours TRAFFIC_WEIGHTS,
EXHAUSTION_WEIGHTS, EXPIRY_WEIGHTS and INFRASTRUCTURE_WEIGHTS. The bias of -3 means a candidate with no
supporting feature sits near 0.05: confidence has to be earned. Calibration points: a deploy
of the service 10 minutes before the alarm, followed by the metric shift and new errors within minutes, scores
about 0.9; an upstream dependency that alarmed before our metric moved, with nothing else, just over 0.5, and
about 0.85 when our new errors name it; a doubled request rate that came first, with nothing else, about 0.73;
new OOM kills or "too many connections" lines with nothing else about 0.6, about 0.9 with a saturation alarm;
new "certificate has expired" lines that start abruptly about 0.75; a health alarm naming one availability
zone about 0.55, about 0.85 when the new errors name the same zone.

Scoring runs in two passes: changes and dependencies first, then the causes without a change, which take the
best change confidence (`change_explains`) and an upstream alarm that came first (`dependency_explains`) as
counter-evidence, so a decisive change or dependency is not shadowed by the symptoms it caused. A dependency
that only our new errors name (no alarm of it: a third-party API) comes last: failed calls are what every
other cause looks like from our side too, so it takes the best confidence of any other candidate against it
(`other_cause_explains`); when its failed calls are the first new errors, with nothing else, it scores about
0.75.

The `unknown` hypothesis (abstain) always comes along with confidence 1 - (best candidate's confidence);
when no candidate reaches `abstain_below`, `unknown` goes first. Ties are broken by category and culprit so
the order is deterministic.
"""

from __future__ import annotations

import math

from oncall_agent.domain.evidence import Category, Evidence, Hypothesis
from oncall_agent.investigation.correlate.candidates import (
    Candidate,
    Facts,
    change_candidates,
    dependency_candidates,
    read_facts,
)
from oncall_agent.investigation.correlate.cause_features import (
    change_counters,
    credential_change_features,
    dependency_counters,
    exhaustion_features,
    expiry_features,
    explained,
    infrastructure_features,
    traffic_features,
)
from oncall_agent.investigation.correlate.causes import (
    Symptoms,
    expiry_candidates,
    infrastructure_candidates,
    read_symptoms,
    traffic_candidates,
)
from oncall_agent.investigation.correlate.context import CorrelationContext
from oncall_agent.investigation.correlate.exhaustion import exhaustion_candidates
from oncall_agent.investigation.correlate.features import Scored, change_features, dependency_features, upstream_first
from oncall_agent.investigation.correlate.known_issues import cite_known_issues, match_known_issues
from oncall_agent.investigation.correlate.log_dependency import (
    LOG_DEPENDENCY_WEIGHTS,
    UPSTREAM_ERRORS_FIRST_WEIGHT,
    explained_by_other,
    log_dependency_candidates,
    log_dependency_features,
    upstream_errors_first,
)

BIAS = -3.0
CHANGE_WEIGHTS = {
    "proximity": 1.5,
    "shift_alignment": 2.0,
    "new_signatures_after": 1.5,
    "logs_mention_change": 1.0,
    "on_service": 1.0,
    "change_ticket": 0.3,
    "past_incident_match": 0.6,
    "errors_predate_change": -2.0,
    "upstream_alarm_first": -1.5,
    "upstream_errors_first": UPSTREAM_ERRORS_FIRST_WEIGHT,
    "superseded": -0.7,
    "overtaken": -1.0,
    "chronic_mention": -0.5,
    "after_onset": -3.0,
    "load_surge": -2.0,
    "infra_alarm_first": -2.0,
    "autoscaling": -2.5,
    "expired_credentials": -1.5,
}
CREDENTIAL_CHANGE_WEIGHTS = {
    "proximity": 1.0,
    "shift_alignment": 1.0,
    "new_signatures_after": 0.5,
    "credential_errors_after": 3.5,
    "logs_mention_change": 1.0,
    "on_service": 1.0,
    "change_ticket": 0.3,
    "past_incident_match": 0.6,
    "no_credential_errors": -1.5,
    "errors_predate_change": -1.5,
    "upstream_alarm_first": -1.5,
    "upstream_errors_first": UPSTREAM_ERRORS_FIRST_WEIGHT,
    "superseded": -0.7,
    "chronic_mention": -0.5,
    "after_onset": -3.0,
    "load_surge": -2.0,
    "infra_alarm_first": -2.0,
    "autoscaling": -2.5,
}
DEPENDENCY_WEIGHTS = {
    "upstream_first": 3.2,
    "logs_mention_dependency": 1.5,
    "past_incident_match": 0.6,
    "change_ticket": 0.3,
    "chronic_alarm": -2.0,
    "chronic_mention": -0.5,
    "infra_alarm_first": -1.5,
}
TRAFFIC_WEIGHTS = {
    "load_up": 3.0,
    "load_leads": 1.0,
    "load_alarm": 1.5,
    "strained": 0.5,
    "past_incident_match": 0.6,
    "change_explains": -2.5,
    "dependency_explains": -1.5,
}
EXHAUSTION_WEIGHTS = {
    "saturated": 2.0,
    "exhaustion_logs": 2.5,
    "strain_first": 1.0,
    "gradual": 0.7,
    "past_incident_match": 0.6,
    "load_up": -2.0,
    "chronic_strain": -1.5,
    "change_explains": -2.5,
    "dependency_explains": -1.5,
}
EXPIRY_WEIGHTS = {
    "credential_errors": 3.5,
    "abrupt": 1.0,
    "names_credential": 0.5,
    "certificate_alarm": 1.0,
    "past_incident_match": 0.6,
    "change_explains": -2.5,
    "dependency_explains": -1.5,
}
INFRASTRUCTURE_WEIGHTS = {
    "infra_alarm": 3.2,
    "zonal_errors": 1.5,
    "past_incident_match": 0.6,
    "load_up": -1.0,
    "change_explains": -2.5,
    "dependency_explains": -0.5,
}
_SUMMARY_ORDER = (
    "proximity",
    "upstream_first",
    "load_up",
    "load_leads",
    "saturated",
    "exhaustion_logs",
    "credential_errors",
    "abrupt",
    "certificate_alarm",
    "infra_alarm",
    "zonal_errors",
    "shift_alignment",
    "credential_errors_after",
    "new_signatures_after",
    "logs_mention_change",
    "logs_mention_dependency",
    "dependency_errors_first",
    "gradual",
    "strained",
    "change_ticket",
    "past_incident_match",
    "superseded",
    "overtaken",
    "upstream_alarm_first",
    "upstream_errors_first",
    "load_surge",
    "infra_alarm_first",
    "autoscaling",
    "expired_credentials",
    "change_explains",
    "dependency_explains",
    "other_cause_explains",
)


def confidence(features: dict[str, float], weights: dict[str, float]) -> float:
    score = BIAS + sum(weight * features.get(name, 0.0) for name, weight in weights.items())
    return round(1.0 / (1.0 + math.exp(-score)), 4)


def _unique(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def _head(cand: Candidate) -> str:
    if cand.category is Category.DEPENDENCY:  # tokens: the names a dependency without an alarm was found by
        return f"Upstream dependency {cand.culprit} is {'failing our calls' if cand.tokens else 'in ALARM'}"
    if cand.category is Category.DEPLOY:
        return f"The {cand.label}"
    if cand.category is Category.CONFIG_CHANGE:
        return f"Config change {cand.label} (event {cand.culprit})"
    if cand.category is Category.RESOURCE_EXHAUSTION:
        return f"Resource {cand.label}"
    return cand.label[:1].upper() + cand.label[1:]


def _summary(scored: Scored) -> str:
    reasons = [scored.notes[name] for name in _SUMMARY_ORDER if scored.notes.get(name)]
    head = _head(scored.candidate)
    return f"{head}: {'; '.join(reasons)}." if reasons else f"{head}."


def _hypothesis(scored: Scored, weights: dict[str, float]) -> Hypothesis:
    against = set(scored.evidence_against)
    return Hypothesis(
        category=scored.candidate.category,
        culprit=scored.candidate.culprit or None,
        confidence=confidence(scored.features, weights),
        evidence_for=[i for i in _unique(scored.evidence_for) if i not in against],
        evidence_against=_unique(scored.evidence_against),
        features=dict(sorted(scored.features.items())),
        summary=_summary(scored)[:500],
    )


UNEXPLAINED_SIGNATURES = 5


def _unknown(best: float, facts: Facts, candidates: int) -> Hypothesis:
    """Abstain: cites what could not be checked (gaps), then what is left unexplained - the alarm metric's shift
    and the first new or increased error signatures - so a person starts from the symptoms."""
    gaps = [e.id for e in facts.gaps]
    shifts = [e.id for e in facts.shifts if e.details.get("alarm_metric") and e.details.get("detected")]
    noisy = [e.id for e in facts.signatures if e.details.get("level") in ("ERROR", "WARN")][:UNEXPLAINED_SIGNATURES]
    if candidates == 0:
        why = "No change, dependency, load, capacity, credential or infrastructure signal explains the alarm"
    else:
        why = f"None of the {candidates} candidate causes is decisive (best {best:.2f})"
    if gaps:
        why += f"; {len(gaps)} gaps in the evidence (sources not checked, or cut by a budget)"
    return Hypothesis(
        category=Category.UNKNOWN,
        confidence=round(1.0 - best, 4),
        evidence_for=[*gaps, *shifts, *noisy],
        features={"best_candidate": best, "candidates": float(candidates), "gaps": float(len(gaps))},
        summary=why + ".",
    )


def _change_scored(
    facts: Facts, found: Symptoms, upstream: float, logged: list[Scored]
) -> list[tuple[Scored, dict[str, float]]]:
    changes: list[Candidate] = change_candidates(facts)
    evidence = {e.id: e for e in [*facts.deploys, *facts.changes]}
    result = []
    for cand in changes:
        if cand.category is Category.CREDENTIAL_EXPIRY:
            scored, weights = (
                credential_change_features(cand, facts, found, changes, upstream),
                CREDENTIAL_CHANGE_WEIGHTS,
            )
        else:
            scored, weights = change_features(cand, facts, changes, upstream), CHANGE_WEIGHTS
        change_counters(scored, facts, found, evidence.get(cand.evidence_ids[0]))
        upstream_errors_first(scored, logged)
        result.append((scored, weights))
    return result


def _scored(facts: Facts) -> list[tuple[Scored, dict[str, float]]]:
    found = read_symptoms(facts)
    dependencies = dependency_candidates(facts)
    alarms = {c.culprit: [e for e in facts.alarms if e.id in c.evidence_ids] for c in dependencies}
    upstream = max((upstream_first(items, facts)[0] for items in alarms.values()), default=0.0)
    logged = [log_dependency_features(cand, facts) for cand in log_dependency_candidates(facts)]
    result = _change_scored(facts, found, upstream, logged)
    for cand in dependencies:
        scored = dependency_features(cand, facts)
        dependency_counters(scored, facts, found)
        result.append((scored, DEPENDENCY_WEIGHTS))
    best_change = max(
        (
            (confidence(s.features, w), s.candidate.label)
            for s, w in result
            if s.candidate.category is not Category.DEPENDENCY
        ),
        default=None,
    )
    causes: list[tuple[Scored, dict[str, float]]] = [
        *((traffic_features(c, facts, found), TRAFFIC_WEIGHTS) for c in traffic_candidates(facts, found)),
        *((exhaustion_features(c, facts, found), EXHAUSTION_WEIGHTS) for c in exhaustion_candidates(found.strains)),
        *((expiry_features(c, facts, found), EXPIRY_WEIGHTS) for c in expiry_candidates(facts, found)),
        *(
            (infrastructure_features(c, facts, found), INFRASTRUCTURE_WEIGHTS)
            for c in infrastructure_candidates(facts, found)
        ),
    ]
    for scored, _ in causes:
        explained(scored, best_change, upstream)
    others = [(confidence(s.features, w), s.candidate.label) for s, w in causes]
    best_other = max([*others, *([best_change] if best_change else [])], default=None)
    for scored in logged:
        explained_by_other(scored, best_other)
    return result + causes + [(scored, LOG_DEPENDENCY_WEIGHTS) for scored in logged]


_CATEGORY_ORDER = {category: index for index, category in enumerate(Category)}


def rank(evidence: list[Evidence], ctx: CorrelationContext, abstain_below: float = 0.5) -> list[Hypothesis]:
    """Hypotheses, most likely first, each citing its evidence ids and carrying its features; `unknown` first
    when no candidate reaches `abstain_below`."""
    facts = read_facts(evidence, ctx)
    scored = _scored(facts)
    hypotheses = [_hypothesis(item, weights) for item, weights in scored]
    best = max((h.confidence for h in hypotheses), default=0.0)
    hypotheses.sort(key=lambda h: (-h.confidence, _CATEGORY_ORDER[h.category], h.culprit or ""))
    unknown = _unknown(best, facts, len(hypotheses))
    known = match_known_issues(facts)
    hypotheses, unknown = [cite_known_issues(h, known) for h in hypotheses], cite_known_issues(unknown, known)
    if best < abstain_below:
        return [unknown, *hypotheses]
    return sorted([*hypotheses, unknown], key=lambda h: -h.confidence)
