"""Rank root-cause hypotheses: one per candidate cause, scored by a weighted logistic over its features.

    confidence = 1 / (1 + exp(-(bias + sum(weight[f] * feature[f]))))

with the weights in `weights` (features are defined in `features` and `cause_features`; counter-evidence has negative
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

Scoring runs in two passes: changes and dependencies first, then the causes without a change, which take the best
confidence of a change that can break requests (`change_explains`) and an upstream alarm that came first
(`dependency_explains`) as counter-evidence, so a decisive change or dependency is not shadowed by the symptoms it
caused. A dependency that only our new errors name (no alarm of it: a third-party API) comes last: failed calls are
what every other cause looks like from our side too, so it takes the best confidence of any other candidate against
it (`other_cause_explains`); when its failed calls are the first new errors, with nothing else, it scores about
0.75.

The `unknown` hypothesis (abstain) always comes along with confidence 1 - (best candidate's confidence);
when no candidate reaches `abstain_below`, `unknown` goes first, else the leading candidate does (its summary
agrees: see `abstain`). Ties are broken by category and culprit so the order is deterministic.
"""

from __future__ import annotations

from oncall_agent.domain.evidence import Category, Evidence, Hypothesis
from oncall_agent.investigation.correlate.abstain import unknown_hypothesis
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
    MIN_LOAD_RATIO,
    Symptoms,
    expiry_candidates,
    infrastructure_candidates,
    read_symptoms,
    traffic_candidates,
)
from oncall_agent.investigation.correlate.change_fit import traffic_vanished
from oncall_agent.investigation.correlate.context import CorrelationContext
from oncall_agent.investigation.correlate.dependency_cause import located
from oncall_agent.investigation.correlate.driven import Driven, driven_by, driven_features, drove_features
from oncall_agent.investigation.correlate.exhaustion import exhaustion_candidates
from oncall_agent.investigation.correlate.features import Scored, change_features, dependency_features, upstream_first
from oncall_agent.investigation.correlate.known_issues import cite_known_issues, match_known_issues
from oncall_agent.investigation.correlate.log_dependency import (
    LOG_DEPENDENCY_WEIGHTS,
    explained_by_other,
    log_dependency_candidates,
    log_dependency_features,
    upstream_errors_first,
)
from oncall_agent.investigation.correlate.path_rank import Path, change_path_counters, inert, path_scored, read_path
from oncall_agent.investigation.correlate.scale_trigger import scaled_out_first
from oncall_agent.investigation.correlate.stated_limits import limit_stated
from oncall_agent.investigation.correlate.throughput import throughput_drop
from oncall_agent.investigation.correlate.weights import (
    CHANGE_WEIGHTS,
    CREDENTIAL_CHANGE_WEIGHTS,
    DEPENDENCY_WEIGHTS,
    EXHAUSTION_WEIGHTS,
    EXPIRY_WEIGHTS,
    INFRASTRUCTURE_WEIGHTS,
    SUMMARY_ORDER,
    TRAFFIC_WEIGHTS,
    confidence,
)


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
    reasons = [scored.notes[name] for name in SUMMARY_ORDER if scored.notes.get(name)]
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


def _traffic_gone(scored: Scored, facts: Facts) -> None:
    """`traffic_gone`: a release of ours, while the requests stopped arriving at our front door: code behind the
    load balancer cannot keep clients from reaching it (the balancer counts failed requests too)."""
    ours = scored.candidate.category is Category.DEPLOY and scored.candidate.on_service >= 1.0
    scored.features["traffic_gone"] = 1.0 if ours and traffic_vanished(facts) else 0.0
    if scored.features["traffic_gone"]:
        scored.notes["traffic_gone"] = "but the requests stopped reaching our load balancer: no release does that"


def _change_scored(
    facts: Facts, found: Symptoms, upstream: tuple[float, set[str]], logged: list[Scored], path: Path
) -> tuple[list[tuple[Scored, dict[str, float]]], list[tuple[Driven, str]]]:
    """Every change candidate scored, and the resources a release of ours drove (with the release's label)."""
    changes: list[Candidate] = change_candidates(facts)
    evidence = {e.id: e for e in [*facts.deploys, *facts.changes]}
    # A change that cannot break requests (a dashboard, a log retention) supersedes or overtakes nothing.
    rivals = [c for c in changes if not inert(evidence.get(c.evidence_ids[0]))]
    result, drivers = [], []
    first, alarming = upstream
    for cand in changes:
        if cand.category is Category.CREDENTIAL_EXPIRY:
            scored, weights = (
                credential_change_features(cand, facts, found, rivals, first),
                CREDENTIAL_CHANGE_WEIGHTS,
            )
        else:
            scored, weights = change_features(cand, facts, rivals, first), CHANGE_WEIGHTS
            throughput_drop(scored, facts)
            _traffic_gone(scored, facts)
        change_counters(scored, facts, found, evidence.get(cand.evidence_ids[0]))
        change_path_counters(scored, evidence.get(cand.evidence_ids[0]), facts, path)
        if weights is CHANGE_WEIGHTS:
            driven = driven_by(cand.at, path.timeline, facts.neighbours)
            drove_features(scored, driven, path.timeline, alarming)
            if driven and scored.features["drove_path"]:
                drivers.append((driven, cand.label))
        upstream_errors_first(scored, logged)
        result.append((scored, weights))
    return result, drivers


def _scored(facts: Facts) -> list[tuple[Scored, dict[str, float]]]:
    found = read_symptoms(facts)
    dependencies = dependency_candidates(facts)
    alarms = {c.culprit: [e for e in facts.alarms if e.id in c.evidence_ids] for c in dependencies}
    firsts = {name: upstream_first(items, facts)[0] for name, items in alarms.items()}
    upstream = max(firsts.values(), default=0.0)
    logged = [log_dependency_features(cand, facts) for cand in log_dependency_candidates(facts)]
    path = read_path(facts)
    alarming = {name for name, score in firsts.items() if score >= 0.6}
    result, drivers = _change_scored(facts, found, (upstream, alarming), logged, path)
    for cand in dependencies:
        scored = dependency_features(cand, facts)
        dependency_counters(scored, facts, found)
        driven_features(scored, drivers)
        result.append((scored, DEPENDENCY_WEIGHTS))
    best_change = max(
        (
            (confidence(s.features, w), s.candidate.label)
            for s, w in result
            if s.candidate.category is not Category.DEPENDENCY and not s.features.get("implausible_kind")
        ),
        default=None,
    )
    causes: list[tuple[Scored, dict[str, float]]] = [
        *((traffic_features(c, facts, found), TRAFFIC_WEIGHTS) for c in traffic_candidates(facts, found)),
        *((exhaustion_scored(c, facts, found), EXHAUSTION_WEIGHTS) for c in exhaustion_candidates(found.strains)),
        *((expiry_features(c, facts, found), EXPIRY_WEIGHTS) for c in expiry_candidates(facts, found)),
        *(
            (infrastructure_features(c, facts, found), INFRASTRUCTURE_WEIGHTS)
            for c in infrastructure_candidates(facts, found)
        ),
    ]
    for scored, _ in causes:
        explained(scored, best_change, upstream)
    # A change that cannot break requests explains nothing away either.
    timed = [
        (confidence(s.features, w), s.candidate.label, s.candidate.at)
        for s, w in result
        if not s.features.get("implausible_kind")
    ]
    load = found.load
    rise = (load.ratio, load.onset) if load.ratio and load.onset and load.ratio >= MIN_LOAD_RATIO else None
    on_path = path_scored(facts, path, max(timed, key=lambda t: t[0], default=None), rise)
    for scored, _ in on_path:
        driven_features(scored, drivers)
    causes += on_path
    others = [(confidence(s.features, w), s.candidate.label) for s, w in causes]
    best_other = max([*others, *([best_change] if best_change else [])], default=None)
    for scored in logged:
        explained_by_other(scored, best_other)
    everything = result + causes + [(item, LOG_DEPENDENCY_WEIGHTS) for item in logged]
    # Last, so that what a dependency's own logs say changes its name, not the counter-evidence it gave the others.
    return [(located(item, facts), weights) for item, weights in everything]


def exhaustion_scored(cand: Candidate, facts: Facts, found: Symptoms) -> Scored:
    scored = exhaustion_features(cand, facts, found)
    limit_stated(scored, facts)
    scaled_out_first(scored, facts)
    return scored


def _merged(hypotheses: list[Hypothesis]) -> list[Hypothesis]:
    """One hypothesis per (category, culprit): two rules that found the same cause (an alarm of a database and
    its signals on the path) keep the more confident reading, citing the evidence of both. A credential failure
    the logs could not name joins the one credential an AWS event or a change names: the same cause."""
    named = {h.culprit for h in hypotheses if h.category is Category.CREDENTIAL_EXPIRY and h.culprit}
    only = next(iter(named)) if len(named) == 1 else None
    kept: dict[tuple[Category, str], Hypothesis] = {}
    for found in sorted(hypotheses, key=lambda h: -h.confidence):
        unnamed = found.category is Category.CREDENTIAL_EXPIRY and not found.culprit and only
        item = found.model_copy(update={"culprit": only}) if unnamed else found
        key = (item.category, (item.culprit or "").lower())
        if key not in kept:
            kept[key] = item
            continue
        first = kept[key]
        extra = [i for i in item.evidence_for if i not in first.evidence_for and i not in first.evidence_against]
        kept[key] = first.model_copy(update={"evidence_for": [*first.evidence_for, *extra]})
    return list(kept.values())


_CATEGORY_ORDER = {category: index for index, category in enumerate(Category)}


def rank(evidence: list[Evidence], ctx: CorrelationContext, abstain_below: float = 0.5) -> list[Hypothesis]:
    """Hypotheses, most likely first, each citing its evidence ids and carrying its features; `unknown` first
    when no candidate reaches `abstain_below`."""
    facts = read_facts(evidence, ctx)
    scored = _scored(facts)
    hypotheses = _merged([_hypothesis(item, weights) for item, weights in scored])
    best = max((h.confidence for h in hypotheses), default=0.0)
    hypotheses.sort(key=lambda h: (-h.confidence, _CATEGORY_ORDER[h.category], h.culprit or ""))
    unknown = unknown_hypothesis(hypotheses[0] if hypotheses else None, facts, len(hypotheses), abstain_below)
    known = match_known_issues(facts)
    hypotheses, unknown = [cite_known_issues(h, known) for h in hypotheses], cite_known_issues(unknown, known)
    if best < abstain_below:
        return [unknown, *hypotheses]
    # A candidate at or above the threshold leads, even when a threshold under 0.5 lets `unknown` score higher.
    return [hypotheses[0], *sorted([*hypotheses[1:], unknown], key=lambda h: -h.confidence)]
