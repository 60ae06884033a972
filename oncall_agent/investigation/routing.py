"""Edge functions: pure, from state to the next node's name."""

from __future__ import annotations

from oncall_agent.domain.action import PolicyDecision
from oncall_agent.investigation.nodes.execute import runnable
from oncall_agent.investigation.state import InvestigationState


def after_report(state: InvestigationState) -> str:
    actions = state.get("actions", [])
    if any(a["policy"] == PolicyDecision.APPROVAL.value for a in actions):
        return "await_approval"
    return "execute" if runnable(actions) else "close"


def after_approval(state: InvestigationState) -> str:
    return "execute" if runnable(state.get("actions", [])) else "close"
