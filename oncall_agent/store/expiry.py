"""Expiring proposals past their deadline, in one transaction with everything the expiry causes.

The due actions (needing approval, proposed or approved, `expires_at` passed) are locked and set to EXPIRED;
per incident, the caller's `effects` says what to write about it (a timeline entry, outbox rows, whether to
escalate), and those writes commit with the expiry, so the tickets say why exactly when the action expired.
The incident's `resume_requested` is set so a worker resumes its waiting graph once. The rows are locked `FOR UPDATE` on
PostgreSQL: two reapers running at once expire (and report) each action once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from oncall_agent.domain.action import ActionStatus, PolicyDecision, ProposedAction
from oncall_agent.domain.incident import IncidentStatus
from oncall_agent.store.incidents import add_timeline, change_status
from oncall_agent.store.investigations import request_resume
from oncall_agent.store.outbox import OutboxItem, enqueue
from oncall_agent.store.tables import actions, incidents

A = ActionStatus
PENDING = (A.PROPOSED.value, A.APPROVED.value)
OPEN = (A.PROPOSED.value, A.APPROVED.value, A.EXECUTING.value)


@dataclass(frozen=True)
class ExpiredGroup:
    """The actions of one incident that expired now, and what is left of its approval actions."""

    incident_id: str
    incident_status: IncidentStatus
    expired: list[ProposedAction]
    expires_at: dict[str, datetime]  # action id -> the deadline it missed
    still_open: list[ProposedAction]  # approval actions still proposed, approved or executing


@dataclass(frozen=True)
class ExpiryEffects:
    timeline: str
    outbox: Sequence[OutboxItem] = field(default_factory=list)
    escalate: str | None = None  # the note of the status change to ESCALATED; None: the status stays


Effects = Callable[[ExpiredGroup], ExpiryEffects]


def expire_due(
    connection: Connection, now: datetime, to_action: Callable[[Any], ProposedAction], effects: Effects | None
) -> list[str]:
    """Expire what is due at `now` and write `effects` for each incident; returns the expired action ids."""
    due = connection.execute(
        sa.select(actions)
        .where(
            actions.c.policy == PolicyDecision.APPROVAL.value,
            actions.c.status.in_(PENDING),
            actions.c.expires_at <= now,
        )
        .order_by(actions.c.incident_id, actions.c.id)
        .with_for_update()
    ).all()
    if not due:
        return []
    ids = [row.id for row in due]
    connection.execute(
        sa.update(actions).where(actions.c.id.in_(ids), actions.c.status.in_(PENDING)).values(status=A.EXPIRED.value)
    )
    by_incident: dict[str, list[Any]] = {}
    for row in due:
        by_incident.setdefault(row.incident_id, []).append(row)
    request_resume(connection, by_incident)
    if effects is not None:
        for incident_id, rows in by_incident.items():
            _apply(connection, now, _group(connection, incident_id, rows, to_action), effects)
    return ids


def _group(
    connection: Connection, incident_id: str, rows: list[Any], to_action: Callable[[Any], ProposedAction]
) -> ExpiredGroup:
    status = connection.execute(sa.select(incidents.c.status).where(incidents.c.id == incident_id)).scalar_one()
    open_rows = connection.execute(
        sa.select(actions).where(
            actions.c.incident_id == incident_id,
            actions.c.policy == PolicyDecision.APPROVAL.value,
            actions.c.status.in_(OPEN),
        )
    ).all()
    expired = [to_action(row).model_copy(update={"status": A.EXPIRED}) for row in rows]
    return ExpiredGroup(
        incident_id,
        IncidentStatus(status),
        expired,
        {row.id: row.expires_at for row in rows},
        [to_action(row) for row in open_rows],
    )


def _apply(connection: Connection, now: datetime, group: ExpiredGroup, effects: Effects) -> None:
    outcome = effects(group)
    ids = [action.id for action in group.expired]
    add_timeline(connection, group.incident_id, now, "expired", outcome.timeline, {"actions": ids})
    enqueue(connection, list(outcome.outbox), now)
    if outcome.escalate is not None:
        change_status(connection, group.incident_id, IncidentStatus.ESCALATED, outcome.escalate, now)
