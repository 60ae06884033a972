"""Approvals by ServiceNow change request, for high-risk actions that require one (runbook `change: required`,
or every high-risk action with `approvals.change_for_high_risk`).

A job on the leader (one replica) walks the actions waiting for a decision. An action with no change yet gets
one through the outbox (a normal `change_request` whose parent is the incident, keyed by the action id, so it
is opened once). An action with a change has it read through the Table API: `approval` approved counts as the
action's approval, rejected (or the change's state Canceled) as its rejection, made by the approver that the
ServiceNow user in `sys_updated_by` maps to (`approvals.servicenow_users`) and bound to the action's digest
(the change's description carries it). The decision goes through ApprovalService, so the person must be in the
action's approver group; a refusal is said once on the tickets, not retried into a storm of notes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from oncall_agent.domain.action import ActionStatus, PolicyDecision, ProposedAction
from oncall_agent.domain.incident import IncidentStatus
from oncall_agent.observability import get_logger
from oncall_agent.ports import ChangeStatus, ChangeTracker, IncidentStore
from oncall_agent.response.approvals import ApprovalService, NotAnApprover
from oncall_agent.response.runbooks import Runbook
from oncall_agent.store.actions import ActionNotPending
from oncall_agent.store.outbox import OutboxItem

log = get_logger(__name__)
CANCELED = "4"  # change_request.state: Canceled


def change_required(runbooks: list[Runbook], all_high_risk: bool) -> Callable[[ProposedAction], bool]:
    """Whether an action is decided by a change request (runbook flag, or the policy flag for high risk)."""
    flagged = {(r.id, a.kind) for r in runbooks for a in r.actions if a.change == "required"}

    def needs(action: ProposedAction) -> bool:
        if action.policy is not PolicyDecision.APPROVAL:
            return False
        return (action.runbook_id, action.kind) in flagged or (all_high_risk and action.risk == "high")

    return needs


def change_description(action: ProposedAction) -> str:
    params = "\n".join(f"  {k}: {v}" for k, v in sorted(action.parameters.items()))
    return (
        f"oncall-agent proposes {action.kind} ({action.id}) for incident {action.incident_id}.\n"
        f"Risk: {action.risk}. Approver group: {action.approvers or 'oncall'}.\n"
        f"Parameters:\n{params}\nDigest: {action.digest}\n\n"
        "Approving this change approves exactly this action (this digest); rejecting or canceling it rejects it."
    )


class ChangeApprovals:
    def __init__(
        self,
        store: IncidentStore,
        actions: Any,  # store.actions.SqlActionStore
        outbox: Any,  # store.outbox.SqlOutbox
        approvals: ApprovalService,
        changes: ChangeTracker,
        needs_change: Callable[[ProposedAction], bool],
        users: Mapping[str, str],
        progress: Callable[[str, str, str], list[Any]],  # Messenger.progress
    ) -> None:
        self._store, self._actions, self._outbox = store, actions, outbox
        self._approvals, self._changes, self._needs = approvals, changes, needs_change
        self._users = {user.lower(): name for user, name in users.items()}
        self._progress = progress

    def run_once(self) -> list[str]:
        """One pass; returns the ids of the actions decided by their change."""
        decided = []
        for incident in self._store.list_incidents([IncidentStatus.AWAITING_APPROVAL]):
            waiting = [
                a
                for a in self._actions.for_incident(incident.id)
                if a.status is ActionStatus.PROPOSED and self._needs(a)
            ]
            links = self._outbox.links(incident.id) if waiting else {}
            for action in waiting:
                sys_id = links.get(f"change:{action.id}:sys_id")
                if not sys_id:
                    self._outbox.enqueue([_open_change(action)])  # a key the outbox holds already is ignored
                elif self._apply(action, self._changes.change_status(sys_id)):
                    decided.append(action.id)
        return decided

    def _apply(self, action: ProposedAction, change: ChangeStatus) -> bool:
        if change.approval == "approved":
            approve = True
        elif change.approval == "rejected" or change.state == CANCELED:
            approve = False
        else:
            return False  # still requested (or not yet): ask again next time
        what = "approved" if approve else ("rejected" if change.approval == "rejected" else "canceled")
        via = f"ServiceNow change {change.number} ({what} by {change.updated_by} at {change.updated_on} UTC)"
        name = self._users.get(change.updated_by.lower())
        try:
            if name is None:
                raise NotAnApprover(
                    f"ServiceNow user {change.updated_by} is not mapped to an approver (approvals.servicenow_users)"
                )
            self._approvals.decide(action.id, action.digest, approve, name, via, by_change=True)
        except ActionNotPending:
            return False  # decided or expired meanwhile: nothing to do
        except NotAnApprover as exc:
            key = f"{action.incident_id}:change:{action.id}:refused:{change.updated_by}:{what}"
            text = f"{via} does not decide {action.kind} {action.id}: {exc}"
            self._outbox.enqueue(self._progress(action.incident_id, key, text))
            log.warning("change_decision_refused", action=action.id, change=change.number, reason=str(exc))
            return False
        log.info("change_decided", action=action.id, change=change.number, approved=approve, by=name)
        return True


def _open_change(action: ProposedAction) -> OutboxItem:
    return OutboxItem(
        f"{action.incident_id}:change:{action.id}",
        action.incident_id,
        "servicenow",
        "servicenow.ensure_change",
        {
            "action_id": action.id,
            "correlation_id": f"{action.incident_id}:{action.id}",
            "short_description": f"oncall-agent: {action.kind} for incident {action.incident_id} ({action.id})",
            "description": change_description(action),
        },
    )
