"""plan: allow-listed actions from the runbooks that match the top hypotheses, each with its policy decision."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from oncall_agent.domain.evidence import Evidence, Hypothesis
from oncall_agent.investigation.deps import Deps
from oncall_agent.investigation.state import InvestigationState
from oncall_agent.response.planner import propose


def make(deps: Deps) -> Any:
    def plan(state: InvestigationState) -> dict[str, Any]:
        scope = state["scope"]
        evidence = {item["id"]: Evidence.model_validate(item) for item in state.get("evidence", [])}
        # The correlator's ranking, never the model's (the reason step keeps it in `correlated`).
        ranked = state.get("correlated") or state.get("hypotheses", [])
        hypotheses = [Hypothesis.model_validate(h) for h in ranked]
        actions = propose(
            scope["incident_id"],
            hypotheses,
            evidence,
            deps.service(scope["service"]),
            scope["alarm_name"],
            deps.runbooks,
            deps.policy,
            deps.now(),
            timedelta(minutes=deps.limits.action_ttl_minutes),
        )
        return {"actions": [a.model_dump(mode="json") for a in actions]}

    return plan
