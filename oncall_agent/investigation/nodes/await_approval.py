"""await_approval: wait durably (interrupt) until an action may run, or nothing is left to decide.

It returns as soon as any action is ready to run (approved, or allowed without approval, and not run yet), so
an approved action runs when it is approved, not when its siblings are decided; or when no action waits for a
decision any more (all rejected or expired: `close` escalates). Otherwise the incident is (again) awaiting
approval and the thread interrupts; the worker resumes it only after a new decision or an expiry.
Decisions and expiries are written by the API, the CLI and the expiry reaper, never here. Before
`interrupt()` this node only reads, or sets the status the incident already has on a replay (a no-op).
"""

from __future__ import annotations

from typing import Any

from langgraph.types import interrupt

from oncall_agent.domain.action import DEFAULT_APPROVERS, ActionStatus, PolicyDecision, ProposedAction
from oncall_agent.domain.incident import IncidentStatus
from oncall_agent.investigation.deps import Deps
from oncall_agent.investigation.nodes.execute import to_run
from oncall_agent.investigation.state import InvestigationState


def undecided(actions: list[dict[str, Any]]) -> list[str]:
    """Ids of the actions that still wait for a person's decision."""
    return [
        a["id"]
        for a in actions
        if a["policy"] == PolicyDecision.APPROVAL.value and a["status"] == ActionStatus.PROPOSED.value
    ]


def _refreshed(deps: Deps, state: InvestigationState) -> list[dict[str, Any]]:
    """The state's actions with their current status from the store (the store is the truth)."""
    stored: dict[str, ProposedAction] = {a.id: a for a in deps.actions.for_incident(state["incident_id"])}
    return [stored[a["id"]].model_dump(mode="json") if a["id"] in stored else a for a in state.get("actions", [])]


def _waiting_again(deps: Deps, state: InvestigationState, actions: list[dict[str, Any]], waiting: list[str]) -> None:
    """Back here after an action that did not resolve the incident while siblings are undecided: the incident
    waits for approval again, and the tickets say so (once: the note's key names the round)."""
    incident_id = state["incident_id"]
    current = deps.store.get_incident(incident_id)
    if current is None or current.status is IncidentStatus.AWAITING_APPROVAL:
        return
    ran = [e["id"] for e in state.get("executed", [])]
    why = state.get("outcome", {}).get("reason", "not resolved")
    names = ", ".join(
        f"{a['kind']} {a['id']} (group {a.get('approvers') or DEFAULT_APPROVERS})"
        for a in actions
        if a["id"] in waiting
    )
    text = f"Not resolved yet ({why}); still waiting for a decision on {names}"
    key = f"{incident_id}:waiting:" + "+".join(ran + waiting)
    deps.results.record(
        incident_id,
        status=IncidentStatus.AWAITING_APPROVAL,
        note=text,
        outbox=deps.messenger.progress(incident_id, key, text),
    )


def make(deps: Deps) -> Any:
    def await_approval(state: InvestigationState) -> dict[str, Any]:
        while True:
            actions = _refreshed(deps, state)
            waiting = undecided(actions)
            if to_run(actions) or not waiting:
                return {"actions": actions}
            _waiting_again(deps, state, actions, waiting)
            interrupt({"awaiting_approval": waiting})

    return await_approval
