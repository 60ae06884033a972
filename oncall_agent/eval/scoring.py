"""SCENARIOS.md scoring rules, as pure functions: does a hypothesis name the true culprit, and the Brier score."""

from __future__ import annotations

import re

# What may stand before the true identifier in a longer form of it: ARN / path / qualifier separators.
_BOUNDARY = re.compile(r"[/:@#=\s.,;|]$")


def names_culprit(candidate: str | None, culprit: str, accept: list[str] | tuple[str, ...] = ()) -> bool:
    """True when `candidate` equals the culprit or an accepted alias (case-insensitively), or is a longer form
    ending with one of them at an identifier boundary (`arn:aws:ecs:…:task-definition/checkout:42` names
    `checkout:42`; `xcheckout:42` does not)."""
    if not candidate:
        return False
    found = candidate.strip().lower()
    for wanted in (culprit, *accept):
        target = wanted.strip().lower()
        if not target:
            continue
        if found == target:
            return True
        if found.endswith(target) and _BOUNDARY.search(found[: -len(target)]):
            return True
    return False


def brier_term(confidence: float, right: bool) -> float:
    """One scenario's Brier term: (confidence - outcome)², outcome 1 when the hypothesis is right, else 0."""
    return (confidence - (1.0 if right else 0.0)) ** 2


def brier(terms: list[float]) -> float | None:
    """The Brier score of a run: the mean of its scenarios' terms (None for no scenarios). 0 is perfect; always
    answering 0.5 scores 0.25; a confident wrong answer costs up to 1."""
    return round(sum(terms) / len(terms), 4) if terms else None
