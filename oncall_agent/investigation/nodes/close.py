"""close: resolve or escalate the incident and queue the closing ticket/issue updates."""

from __future__ import annotations

from typing import Any

from oncall_agent.domain.incident import IncidentStatus
from oncall_agent.investigation.deps import Deps
from oncall_agent.investigation.state import InvestigationState


def make(deps: Deps) -> Any:
    def close(state: InvestigationState) -> dict[str, Any]:
        outcome = state.get("outcome") or {"resolved": False, "reason": "no action could be proposed"}
        resolved = bool(outcome["resolved"])
        status = IncidentStatus.RESOLVED if resolved else IncidentStatus.ESCALATED
        text = ("Resolved: " if resolved else "Escalated to the on-call team: ") + outcome["reason"]
        current = deps.store.get_incident(state["incident_id"])
        if current is not None and current.status is not status:  # a replay after the write is a no-op
            deps.results.record(
                state["incident_id"],
                status=status,
                note=outcome["reason"],
                outbox=deps.messenger.closed(state["incident_id"], resolved, text),
            )
        return {"outcome": outcome}

    return close
