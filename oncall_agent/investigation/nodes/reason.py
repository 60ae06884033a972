"""reason: the optional LLM between correlate and plan (off unless `llm.provider` is set). It may reorder the
correlator's ranking within what the evidence supports, look further with read-only lookups, and write the
narrative; `correlated` keeps the correlator's own ranking, which is what plan reads, so the model can never
add, remove or change an action."""

from __future__ import annotations

from typing import Any

from oncall_agent.domain.evidence import Evidence, Hypothesis
from oncall_agent.investigation.deps import Deps
from oncall_agent.investigation.reasoning.lookups import make_lookup, neighbours
from oncall_agent.investigation.reasoning.step import reason_over
from oncall_agent.investigation.state import InvestigationState


def make(deps: Deps) -> Any:
    def reason(state: InvestigationState) -> dict[str, Any]:
        if deps.reasoner is None:
            return {}
        scope = state["scope"]
        outcome = reason_over(
            scope,
            [Evidence.model_validate(item) for item in state.get("evidence", [])],
            [Hypothesis.model_validate(h) for h in state.get("hypotheses", [])],
            deps.reasoner,
            deps.llm,
            deps.limits.abstain_below,
            lookup=make_lookup(deps, scope) if deps.llm.max_tool_calls and deps.llm.max_rounds > 1 else None,
            services=neighbours(deps, scope["service"]),
            tracer=deps.tracer,
        )
        deps.on_reasoned(outcome.totals)
        return {
            "correlated": state.get("hypotheses", []),
            "hypotheses": [h.model_dump(mode="json") for h in outcome.hypotheses],
            "evidence": [item.model_dump(mode="json") for item in outcome.added],
            "llm": outcome.totals,
        }

    return reason
