"""Proposed actions, their digest (what an approval binds to) and their status lifecycle."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from oncall_agent.domain.errors import InvalidTransition


class ActionStatus(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    EXECUTING = "executing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class PolicyDecision(StrEnum):
    DENY = "deny"
    AUTO = "auto"
    APPROVAL = "approval"


A = ActionStatus
# The approver group of an action on a service without a `team` tag (and of actions stored before groups were).
DEFAULT_APPROVERS = "oncall"
ACTION_TRANSITIONS: dict[ActionStatus, frozenset[ActionStatus]] = {
    A.PROPOSED: frozenset({A.APPROVED, A.REJECTED, A.EXPIRED, A.EXECUTING}),
    A.APPROVED: frozenset({A.EXECUTING, A.EXPIRED}),
    A.REJECTED: frozenset(),
    A.EXPIRED: frozenset(),
    A.EXECUTING: frozenset({A.SUCCEEDED, A.FAILED}),
    A.SUCCEEDED: frozenset(),
    A.FAILED: frozenset(),
}


def action_digest(kind: str, parameters: dict[str, Any]) -> str:
    """Hash of kind + parameters: an approval of one digest can never authorise a different action."""
    body = json.dumps({"kind": kind, "parameters": parameters}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def advance_action(current: ActionStatus, target: ActionStatus) -> ActionStatus:
    if target not in ACTION_TRANSITIONS[current]:
        raise InvalidTransition(f"action cannot go from {current.value} to {target.value}")
    return target


class ProposedAction(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    incident_id: str
    kind: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    runbook_id: str
    risk: str = "medium"
    policy: PolicyDecision = PolicyDecision.APPROVAL
    digest: str
    # Who may decide it: the group the policy named for an APPROVAL decision (the service's owning team).
    # Not part of the digest: the approval binds to what is done, the group to who may allow it.
    approvers: str | None = None
    status: ActionStatus = ActionStatus.PROPOSED
    decided_by: str | None = None
    decided_at: datetime | None = None
    decided_via: str | None = None
