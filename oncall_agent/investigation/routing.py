"""Edge functions: pure, from state to the next node's name."""

from __future__ import annotations

from oncall_agent.domain.action import ActionStatus, PolicyDecision
from oncall_agent.investigation.nodes.execute import to_run
from oncall_agent.investigation.state import InvestigationState


def _undecided(state: InvestigationState) -> bool:
    return any(
        a["policy"] == PolicyDecision.APPROVAL.value and a["status"] == ActionStatus.PROPOSED.value
        for a in state.get("actions", [])
    )


def after_report(state: InvestigationState) -> str:
    actions = state.get("actions", [])
    if any(a["policy"] == PolicyDecision.APPROVAL.value for a in actions):
        return "await_approval"
    return "execute" if to_run(actions) else "close"


def after_approval(state: InvestigationState) -> str:
    return "execute" if to_run(state.get("actions", [])) else "close"


def after_verify(state: InvestigationState) -> str:
    """Resolved: close. Not resolved while other actions still wait for a decision: wait for them."""
    resolved = bool(state.get("outcome", {}).get("resolved"))
    return "await_approval" if not resolved and _undecided(state) else "close"
