"""Rank root-cause hypotheses: one per candidate cause, scored by a weighted logistic over its features.

    confidence = 1 / (1 + exp(-(bias + sum(weight[f] * feature[f]))))

with the weights below (features are defined in `features`; counter-evidence has negative weights). Change
candidates (deploys, config changes) use CHANGE_WEIGHTS, upstream dependencies DEPENDENCY_WEIGHTS. The bias of
-3 means a candidate with no supporting feature sits near 0.05: confidence has to be earned. Calibration
points: a deploy of the service 10 minutes before the alarm, followed by the metric shift and new errors within
minutes, scores about 0.9; an upstream dependency that alarmed before our metric moved, with nothing else,
just over 0.5, and about 0.85 when our new errors name it.

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
from oncall_agent.investigation.correlate.context import CorrelationContext
from oncall_agent.investigation.correlate.features import Scored, change_features, dependency_features, upstream_first

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
    "superseded": -0.7,
    "chronic_mention": -0.5,
    "after_onset": -3.0,
}
DEPENDENCY_WEIGHTS = {
    "upstream_first": 3.2,
    "logs_mention_dependency": 1.5,
    "past_incident_match": 0.6,
    "change_ticket": 0.3,
    "chronic_alarm": -2.0,
    "chronic_mention": -0.5,
}
_SUMMARY_ORDER = (
    "proximity",
    "upstream_first",
    "shift_alignment",
    "new_signatures_after",
    "logs_mention_change",
    "logs_mention_dependency",
    "change_ticket",
    "past_incident_match",
    "superseded",
    "upstream_alarm_first",
)


def confidence(features: dict[str, float], weights: dict[str, float]) -> float:
    score = BIAS + sum(weight * features.get(name, 0.0) for name, weight in weights.items())
    return round(1.0 / (1.0 + math.exp(-score)), 4)


def _unique(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def _summary(scored: Scored) -> str:
    cand = scored.candidate
    reasons = [scored.notes[name] for name in _SUMMARY_ORDER if scored.notes.get(name)]
    if cand.category is Category.DEPENDENCY:
        head = f"Upstream dependency {cand.culprit} is in ALARM"
    elif cand.category is Category.DEPLOY:
        head = f"The {cand.label}"
    else:
        head = f"Config change {cand.label} (event {cand.culprit})"
    return f"{head}: {'; '.join(reasons)}." if reasons else f"{head}."


def _hypothesis(scored: Scored, weights: dict[str, float]) -> Hypothesis:
    against = set(scored.evidence_against)
    return Hypothesis(
        category=scored.candidate.category,
        culprit=scored.candidate.culprit,
        confidence=confidence(scored.features, weights),
        evidence_for=[i for i in _unique(scored.evidence_for) if i not in against],
        evidence_against=_unique(scored.evidence_against),
        features=dict(sorted(scored.features.items())),
        summary=_summary(scored)[:500],
    )


def _unknown(best: float, facts: Facts, candidates: int) -> Hypothesis:
    gaps = [e.id for e in facts.gaps]
    if candidates == 0:
        why = "No deploy, config change or upstream dependency alarm explains the alarm"
    else:
        why = f"None of the {candidates} candidate causes is decisive (best {best:.2f})"
    if gaps:
        why += f"; {len(gaps)} evidence sources could not be checked"
    return Hypothesis(
        category=Category.UNKNOWN,
        confidence=round(1.0 - best, 4),
        evidence_for=gaps,
        features={"best_candidate": best, "candidates": float(candidates), "gaps": float(len(gaps))},
        summary=why + ".",
    )


def _scored(facts: Facts) -> list[tuple[Scored, dict[str, float]]]:
    dependencies = dependency_candidates(facts)
    alarms = {c.culprit: [e for e in facts.alarms if e.id in c.evidence_ids] for c in dependencies}
    upstream = max((upstream_first(items, facts)[0] for items in alarms.values()), default=0.0)
    changes: list[Candidate] = change_candidates(facts)
    result = [(change_features(c, facts, changes, upstream), CHANGE_WEIGHTS) for c in changes]
    result += [(dependency_features(c, facts), DEPENDENCY_WEIGHTS) for c in dependencies]
    return result


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
    if best < abstain_below:
        return [unknown, *hypotheses]
    return sorted([*hypotheses, unknown], key=lambda h: -h.confidence)
