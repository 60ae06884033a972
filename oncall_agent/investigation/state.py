"""The graph's state: plain JSON-able dicts only (checkpoints must deserialise without registered types).

`evidence` is a reducer channel: each gather branch appends its items and the join sees them all.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict


def merge(left: dict[str, float] | None, right: dict[str, float] | None) -> dict[str, float]:
    return {**(left or {}), **(right or {})}


class InvestigationState(TypedDict, total=False):
    incident_id: str
    scope: dict[str, Any]
    source: str  # set only in a gather branch's input (Send)
    evidence: Annotated[list[dict[str, Any]], operator.add]
    source_seconds: Annotated[dict[str, float], merge]  # wall time of each gather branch
    source_calls: Annotated[dict[str, int], merge]  # API calls each gather branch sent (its budget's count)
    hypotheses: list[dict[str, Any]]  # what the incident shows (after the reason step when it ran)
    correlated: list[dict[str, Any]]  # the correlator's own ranking, set by the reason step: plan reads it
    llm: dict[str, Any]  # the reason step's totals (calls, tokens, latency, cost), narrative and disagreement
    actions: list[dict[str, Any]]
    executed: list[dict[str, Any]]
    outcome: dict[str, Any]
