"""close: resolve or escalate the incident, carry out the escalation action, queue the closing updates."""

from __future__ import annotations

from typing import Any

from oncall_agent.domain.action import ActionStatus, PolicyDecision, ProposedAction
from oncall_agent.domain.incident import IncidentStatus
from oncall_agent.investigation.deps import Deps
from oncall_agent.investigation.state import InvestigationState


def _escalation(deps: Deps, actions: list[dict[str, Any]], reason: str) -> str | None:
    """Mark the proposed `escalate` action done (the tickets carry it to the team); returns the team."""
    for item in actions:
        action = ProposedAction.model_validate(item)
        if action.kind != "escalate" or action.policy is not PolicyDecision.AUTO:
            continue
        stored = deps.actions.get(action.id)
        team = str(action.parameters.get("team") or "on-call")
        if stored is not None and stored.status is ActionStatus.PROPOSED:
            deps.actions.mark_executing(action.id)
            deps.actions.mark_succeeded(action.id, {"escalated_to": team, "reason": reason})
        return team
    return None


def _severity(state: InvestigationState) -> dict[str, Any] | None:
    found = state.get("scope", {}).get("severity")
    return dict(found) if isinstance(found, dict) else None


def _reason(state: InvestigationState) -> dict[str, Any]:
    if state.get("outcome"):
        return dict(state["outcome"])
    decided = [a for a in state.get("actions", []) if a["status"] in ("rejected", "expired")]
    if decided:
        return {"resolved": False, "reason": f"{decided[0]['kind']} {decided[0]['id']} was {decided[0]['status']}"}
    return {"resolved": False, "reason": "no automatic remediation applies to the most likely cause"}


def make(deps: Deps) -> Any:
    def close(state: InvestigationState) -> dict[str, Any]:
        outcome = _reason(state)
        resolved = bool(outcome["resolved"])
        status = IncidentStatus.RESOLVED if resolved else IncidentStatus.ESCALATED
        team = None if resolved else _escalation(deps, state.get("actions", []), outcome["reason"])
        text = (
            "Resolved: " + outcome["reason"]
            if resolved
            else (f"Escalated to {team or 'the on-call team'}: {outcome['reason']}")
        )
        incident_id = state["incident_id"]
        # Assign and raise the tickets even when the expiry reaper escalated first (its keys are stable).
        reach = (
            []
            if resolved
            else deps.messenger.escalated(incident_id, team or "oncall", _severity(state), outcome["reason"])
        )
        current = deps.store.get_incident(incident_id)
        if current is not None and current.status is not status:  # a replay after the write is a no-op
            outbox = deps.messenger.closed(incident_id, resolved, text) + reach
            deps.results.record(incident_id, status=status, note=outcome["reason"], outbox=outbox)
        elif reach:
            deps.results.record(incident_id, outbox=reach)  # already-held keys are ignored by the outbox
        return {"outcome": outcome}

    return close
