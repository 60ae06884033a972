"""execute: run what was approved (or is allowed to run without approval): dry run first, then once.

Replays are safe: an action already marked succeeded or failed is not run again, and executors are
idempotent by the action id (a rollback that already happened is found done).
"""

from __future__ import annotations

from typing import Any

from oncall_agent.domain.action import ActionStatus, PolicyDecision, ProposedAction
from oncall_agent.domain.errors import OncallAgentError
from oncall_agent.domain.incident import IncidentStatus
from oncall_agent.investigation.deps import Deps
from oncall_agent.investigation.state import InvestigationState
from oncall_agent.lifecycle import lifecycle

NO_CHANGE_KINDS = frozenset({"escalate"})


def runnable(actions: list[dict[str, Any]]) -> list[ProposedAction]:
    """Approved actions, and auto actions, that change something (escalation is the fallback, not a fix)."""
    chosen = []
    for item in actions:
        action = ProposedAction.model_validate(item)
        if action.kind in NO_CHANGE_KINDS:
            continue
        approved = action.status in (ActionStatus.APPROVED, ActionStatus.EXECUTING, ActionStatus.SUCCEEDED)
        auto = action.policy is PolicyDecision.AUTO and action.status is ActionStatus.PROPOSED
        if approved or auto:
            chosen.append(action)
    return chosen


def to_run(actions: list[dict[str, Any]]) -> list[ProposedAction]:
    """The runnable actions that have not run yet (an approved action runs once, when it is approved)."""
    finished = (ActionStatus.SUCCEEDED, ActionStatus.FAILED)
    return [action for action in runnable(actions) if action.status not in finished]


def _run(deps: Deps, action: ProposedAction) -> dict[str, Any]:
    stored = deps.actions.get(action.id)
    if stored is None:  # the graph's copy outlived the store's row (e.g. a restored database): never act blind
        return {"id": action.id, "kind": action.kind, "status": "failed", "reason": "not in the action store"}
    if stored.status in (ActionStatus.SUCCEEDED, ActionStatus.FAILED):
        return {"id": action.id, "kind": action.kind, "status": stored.status.value}
    executor = deps.executors.get(action.kind)
    if executor is None:
        deps.actions.mark_failed(action.id, f"no executor for {action.kind}")
        return {"id": action.id, "kind": action.kind, "status": "failed", "reason": "no executor"}
    try:
        plan = executor.plan(stored)
    except Exception as exc:  # noqa: BLE001 - the dry run could not even read the target: fail, do not act
        deps.actions.mark_failed(action.id, f"dry run: {type(exc).__name__}: {exc}")
        return {"id": action.id, "kind": action.kind, "status": "failed", "reason": str(exc)}
    if not plan.feasible:
        deps.actions.mark_failed(action.id, f"dry run: {plan.summary}")
        return {"id": action.id, "kind": action.kind, "status": "failed", "reason": plan.summary}
    try:
        if stored.status is not ActionStatus.EXECUTING:
            deps.actions.mark_executing(action.id)
    except OncallAgentError as exc:  # e.g. the approval expired before the action could start
        return {"id": action.id, "kind": action.kind, "status": "failed", "reason": str(exc)}
    try:
        result = executor.execute(stored, idempotency_key=action.id)
    except Exception as exc:  # noqa: BLE001 - a failed action is recorded and escalated, not retried blindly
        deps.actions.mark_failed(action.id, f"{type(exc).__name__}: {exc}")
        return {"id": action.id, "kind": action.kind, "status": "failed", "reason": str(exc)}
    deps.actions.mark_succeeded(action.id, result)
    return {"id": action.id, "kind": action.kind, "status": "succeeded", "result": result}


def make(deps: Deps) -> Any:
    def execute(state: InvestigationState) -> dict[str, Any]:
        chosen = to_run(state.get("actions", []))
        incident_id = state["incident_id"]
        names = ", ".join(f"{a.kind} {a.id} (approved by {a.decided_by or 'policy'})" for a in chosen)
        # One key per set of actions: a later round (a sibling approved after the first ran) gets its own note.
        key = f"{incident_id}:executing:" + "+".join(a.id for a in chosen)
        deps.results.record(
            incident_id,
            status=IncidentStatus.MITIGATING,
            note=f"executing {names}",
            outbox=deps.messenger.progress(incident_id, key, f"Executing: {names}"),
        )
        executed = [_run(deps, action) for action in chosen]
        for outcome in executed:
            lifecycle(
                "action_executed",
                incident_id,
                action_id=outcome["id"],
                kind=outcome["kind"],
                outcome=outcome["status"],
                reason=outcome.get("reason"),
            )
        return {"executed": executed}

    return execute
