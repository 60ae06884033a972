"""The citation check: every claim of the model must rest on evidence that exists. A claim that cites an id the
investigation does not hold (or names a candidate key it was not shown) is dropped whole and counted: a made-up
citation discredits the claim it supports, not only the id."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from oncall_agent.domain.evidence import Category
from oncall_agent.domain.reasoning import CounterEvidence, NewHypothesis, RankedCandidate, Reasoning


@dataclass(frozen=True)
class Checked:
    reasoning: Reasoning
    dropped: int  # claims removed: made-up ids, unknown keys, repeats, new hypotheses past the limit


def _ranking(items: list[RankedCandidate], ids: Collection[str], keys: Collection[str]) -> list[RankedCandidate]:
    kept: list[RankedCandidate] = []
    for item in items:
        if item.key in keys and item.key not in {k.key for k in kept} and set(item.cites) <= set(ids):
            kept.append(item)
    return kept


def _new(items: list[NewHypothesis], ids: Collection[str], limit: int) -> list[NewHypothesis]:
    cited = [h for h in items if h.cites and set(h.cites) <= set(ids) and h.category is not Category.UNKNOWN]
    return cited[:limit]


def _counter(items: list[CounterEvidence], ids: Collection[str], keys: Collection[str]) -> list[CounterEvidence]:
    return [c for c in items if c.key in keys and c.evidence_id in ids]


def check_citations(reasoning: Reasoning, ids: Collection[str], keys: Collection[str], max_new: int) -> Checked:
    """The answer with only the claims whose citations exist (`ids`: every evidence id of the investigation;
    `keys`: the candidate keys the prompt showed), and how many claims were dropped."""
    ranking = _ranking(reasoning.ranking, ids, keys)
    new = _new(reasoning.new_hypotheses, ids, max_new)
    counter = _counter(reasoning.counter_evidence, ids, keys)
    dropped = (
        len(reasoning.ranking)
        - len(ranking)
        + len(reasoning.new_hypotheses)
        - len(new)
        + len(reasoning.counter_evidence)
        - len(counter)
    )
    cleaned = reasoning.model_copy(update={"ranking": ranking, "new_hypotheses": new, "counter_evidence": counter})
    return Checked(cleaned, dropped)
