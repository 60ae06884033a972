"""await_approval: wait durably (interrupt) until every action that needs approval is decided or expired.

Decisions are written to the store by the API or CLI (bound to the action digest); the worker then resumes
this thread. Everything before `interrupt()` only reads, so replaying the node on resume is harmless.
"""

from __future__ import annotations

from typing import Any

from langgraph.types import interrupt

from oncall_agent.domain.action import ActionStatus, PolicyDecision
from oncall_agent.investigation.deps import Deps
from oncall_agent.investigation.state import InvestigationState


def make(deps: Deps) -> Any:
    def await_approval(state: InvestigationState) -> dict[str, Any]:
        waiting = [a["id"] for a in state.get("actions", []) if a["policy"] == PolicyDecision.APPROVAL.value]
        while True:
            deps.actions.expire_due(deps.now())
            current = {a.id: a for a in deps.actions.for_incident(state["incident_id"])}
            undecided = [i for i in waiting if current[i].status is ActionStatus.PROPOSED]
            if not undecided:
                return {"actions": [current[a["id"]].model_dump(mode="json") for a in state.get("actions", [])]}
            interrupt({"awaiting_approval": undecided})

    return await_approval
