"""How the model's ranking and the correlator's combine (explicit, so it can be tested and explained):

- The model may reorder two neighbouring candidates only where the evidence cannot tell them apart: their
  confidences are within TIE_MARGIN and the one moving up cites evidence of its own. Confidences stay with the
  places (the calibrated values are re-used, in order), so a reordering never invents certainty.
- Where the model's top, with evidence cited for it, differs from a confident correlator top (at or above the
  abstention threshold), the correlator's top stays first, both are named in a note on the incident, and every
  candidate's confidence is capped at the top's, lowered by DISAGREE_FACTOR. An uncited first choice is an
  opinion the evidence does not back: it is named (`model_top`) but lowers nothing.
- New hypotheses (citations checked before) come last, at a confidence below every candidate, marked as the
  model's. `unknown` (the abstention) keeps its place and its confidence.
The plan never reads this ranking: actions come from the correlator's ranking, runbooks and policy only.
"""

from __future__ import annotations

from dataclasses import dataclass

from oncall_agent.domain.evidence import Category, Hypothesis
from oncall_agent.domain.reasoning import Reasoning

TIE_MARGIN = 0.1
DISAGREE_FACTOR = 0.8
NEW_CONFIDENCE = 0.05


@dataclass(frozen=True)
class Combined:
    hypotheses: list[Hypothesis]
    disagreement: str | None  # the note for the incident when the model's top differs from a confident top
    model_top: str | None  # the model's first choice, described


def describe(h: Hypothesis) -> str:
    return f"{h.category.value}{f' {h.culprit}' if h.culprit else ''}"


def _reordered(candidates: list[int], rank: dict[int, int], hypotheses: list[Hypothesis]) -> list[int]:
    order = list(candidates)
    unranked = len(rank)
    moved = True
    while moved:
        moved = False
        for j in range(1, len(order)):
            above, below = hypotheses[order[j - 1]], hypotheses[order[j]]
            closer = rank.get(order[j], unranked) < rank.get(order[j - 1], unranked)
            if closer and above.confidence - below.confidence <= TIE_MARGIN and below.evidence_for:
                order[j - 1], order[j] = order[j], order[j - 1]
                moved = True
    return order


def _with_counter(h: Hypothesis, against: list[str], llm_rank: int | None) -> dict[str, object]:
    features = dict(h.features)
    if llm_rank is not None:
        features["llm_rank"] = float(llm_rank + 1)
    return {
        "evidence_against": [*h.evidence_against, *(i for i in against if i not in h.evidence_against)],
        "features": features,
    }


def combine(hypotheses: list[Hypothesis], keys: dict[str, int], answer: Reasoning, abstain_below: float) -> Combined:
    """`answer` must have passed the citation check (its keys and ids exist)."""
    candidates = list(keys.values())
    if not candidates:
        return Combined(list(hypotheses), None, None)
    rank = {keys[r.key]: n for n, r in enumerate(answer.ranking)}
    order = _reordered(candidates, rank, hypotheses)
    slots = sorted((hypotheses[i].confidence for i in candidates), reverse=True)
    against: dict[int, list[str]] = {}
    for c in answer.counter_evidence:
        against.setdefault(keys[c.key], []).append(c.evidence_id)
    placed = [
        hypotheses[i].model_copy(
            update={"confidence": slots[n], **_with_counter(hypotheses[i], against.get(i, []), rank.get(i))}
        )
        for n, i in enumerate(order)
    ]
    model_first = keys[answer.ranking[0].key] if answer.ranking else None
    backed = model_first if answer.ranking and answer.ranking[0].cites else None
    note = _disagreement(hypotheses, order, backed, abstain_below)
    if note is not None:
        lowered = round(slots[0] * DISAGREE_FACTOR, 3)
        placed = [h.model_copy(update={"confidence": min(h.confidence, lowered)}) for h in placed]
    merged = list(hypotheses)
    for position, h in zip(candidates, placed, strict=True):
        merged[position] = h
    return Combined(
        [*merged, *_new(answer, placed)], note, describe(hypotheses[model_first]) if model_first is not None else None
    )


def _disagreement(
    hypotheses: list[Hypothesis], order: list[int], model_first: int | None, abstain_below: float
) -> str | None:
    """The note when the model's first choice is not the top after reordering and the correlator was confident."""
    top = hypotheses[order[0]]
    if model_first is None or model_first == order[0] or hypotheses[0].category is Category.UNKNOWN:
        return None
    if hypotheses[0].confidence < abstain_below:
        return None
    lowered = round(hypotheses[0].confidence * DISAGREE_FACTOR, 3)
    return (
        f"The model ranks {describe(hypotheses[model_first])} first; the correlator ranks {describe(top)} first "
        f"({hypotheses[0].confidence:.2f}), so its confidence is lowered to {lowered:.2f}. Actions follow the "
        "correlator's ranking, runbooks and policy."
    )


def _new(answer: Reasoning, placed: list[Hypothesis]) -> list[Hypothesis]:
    floor = min([NEW_CONFIDENCE, *(h.confidence for h in placed)])
    return [
        Hypothesis(
            category=n.category,
            culprit=n.culprit,
            confidence=floor,
            evidence_for=list(dict.fromkeys(n.cites)),
            features={"llm_new": 1.0},
            summary=f"Suggested by the model, not scored by the correlator: {n.summary}",
        )
        for n in answer.new_hypotheses
    ]
