"""The `unknown` hypothesis: the agent's abstention. Its confidence is 1 - (the leading candidate's confidence);
it cites the gaps in the evidence and what is left unexplained, and its summary always agrees with the ranking:
below the abstention threshold no candidate is decisive; at or above it, `unknown` is only the remaining chance
that the leading cause (named) and all the others are wrong."""

from __future__ import annotations

from oncall_agent.domain.evidence import Category, Hypothesis
from oncall_agent.investigation.correlate.candidates import Facts

UNEXPLAINED_SIGNATURES = 5


def unknown_why(best: Hypothesis | None, candidates: int, abstain_below: float) -> str:
    """Why `unknown` has the confidence it has, in words that agree with the ranking: with a candidate at or above
    the threshold, `unknown` is only the chance that the candidates are all wrong, and says which one leads."""
    if best is None:
        return "No change, dependency, load, capacity, credential or infrastructure signal explains the alarm"
    if best.confidence < abstain_below:
        return (
            f"None of the {candidates} candidate causes is decisive (best {best.confidence:.2f}, "
            f"below the {abstain_below:.2f} needed to name a cause)"
        )
    named = f"{best.category.value}{f' {best.culprit}' if best.culprit else ''}"
    return (
        f"The leading cause is {named} ({best.confidence:.2f}, at or above {abstain_below:.2f}); this is the "
        f"remaining chance that none of the {candidates} candidate causes is the cause"
    )


def unknown_hypothesis(best: Hypothesis | None, facts: Facts, candidates: int, abstain_below: float) -> Hypothesis:
    """Abstain: cites what could not be checked (gaps), then what is left unexplained - the alarm metric's shift
    and the first new or increased error signatures - so a person starts from the symptoms. `best` is the
    leading candidate (None when there is none); the summary agrees with whether it clears the threshold."""
    gaps = [e.id for e in facts.gaps]
    shifts = [e.id for e in facts.shifts if e.details.get("alarm_metric") and e.details.get("detected")]
    noisy = [e.id for e in facts.signatures if e.details.get("level") in ("ERROR", "WARN")][:UNEXPLAINED_SIGNATURES]
    why = unknown_why(best, candidates, abstain_below)
    confidence = best.confidence if best else 0.0
    if gaps:
        why += f"; {len(gaps)} gaps in the evidence (sources not checked, or cut by a budget)"
    return Hypothesis(
        category=Category.UNKNOWN,
        confidence=round(1.0 - confidence, 4),
        evidence_for=[*gaps, *shifts, *noisy],
        features={"best_candidate": confidence, "candidates": float(candidates), "gaps": float(len(gaps))},
        summary=why + ".",
    )
