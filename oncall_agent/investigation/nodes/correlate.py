"""correlate: the deterministic ranking of root-cause hypotheses over everything gathered."""

from __future__ import annotations

from typing import Any

from oncall_agent.domain.evidence import Evidence
from oncall_agent.investigation.correlate.rank import rank
from oncall_agent.investigation.deps import Deps
from oncall_agent.investigation.sources import context_from_scope
from oncall_agent.investigation.state import InvestigationState


def make(deps: Deps) -> Any:
    def correlate(state: InvestigationState) -> dict[str, Any]:
        evidence = [Evidence.model_validate(item) for item in state.get("evidence", [])]
        ctx = context_from_scope(deps, state["scope"])
        ranked = rank(evidence, ctx, abstain_below=deps.limits.abstain_below)
        return {"hypotheses": [h.model_dump(mode="json") for h in ranked]}

    return correlate
