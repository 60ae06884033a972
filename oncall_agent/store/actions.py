"""SqlActionStore: proposed actions, the decisions bound to their digests, and their execution status.

Every write is one transaction under the engine's write gate (`BEGIN IMMEDIATE` on SQLite; the action row is
locked `FOR UPDATE` on PostgreSQL). Rules:

- `save_proposed` is idempotent by action id: a row that exists is left alone (a re-plan never resets a
  decision, and a rejected or expired action is never revived).
- `decide` binds a decision to the digest the approver saw: the full digest, or a prefix of at least
  `MIN_DIGEST_PREFIX` hex characters (what tickets and issues show). Any decision on an action that is not
  PROPOSED (a replayed approval, approve after reject, ...) raises ActionNotPending and writes nothing.
- A decision or an expiry sets the incident's `resume_requested`, so a worker resumes its waiting graph once.
- A proposal past `expires_at` is set to EXPIRED (committed) and the decision raises ActionExpired. Only
  actions that need approval expire (here, in `mark_executing` and in the reaper's `expire_due`).
- Execution status moves only through `domain.action.advance_action`; an action that needs approval never
  goes to EXECUTING unless it was approved, and an expired one never does. `mark_failed` on an action that
  failed before it started (dry run) passes through EXECUTING. Repeating the status an action has is a no-op.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from oncall_agent.domain.action import ActionStatus, PolicyDecision, ProposedAction, advance_action
from oncall_agent.domain.errors import OncallAgentError
from oncall_agent.ports import Clock
from oncall_agent.store.engine import writer
from oncall_agent.store.errors import translate_errors
from oncall_agent.store.expiry import Effects, expire_due
from oncall_agent.store.investigations import request_resume
from oncall_agent.store.outbox import OutboxItem, enqueue
from oncall_agent.store.tables import actions
from oncall_agent.store.write_gate import gate_for

A = ActionStatus
MIN_DIGEST_PREFIX = 12
DEFAULT_TTL = timedelta(hours=2)


class ActionError(OncallAgentError):
    """A decision or status change on an action was refused; the message says why."""


class UnknownAction(ActionError):
    pass


class DigestMismatch(ActionError):
    """The decision names a different digest than the action has: it approves something else."""


class ActionNotPending(ActionError):
    """The action is not waiting for a decision (already decided differently, expired, executing, ...)."""


class ActionExpired(ActionNotPending):
    pass


class ApprovalRequired(ActionError):
    """An action whose policy needs approval cannot execute before it is approved."""


@dataclass(frozen=True)
class ActionRecord:
    """An action with what the store keeps beside the domain object."""

    action: ProposedAction
    approvers: str | None
    created_at: datetime
    expires_at: datetime | None
    plan: dict[str, Any] | None
    result: dict[str, Any] | None


def _action(row: Any) -> ProposedAction:
    return ProposedAction(
        id=row.id,
        incident_id=row.incident_id,
        kind=row.kind,
        parameters=row.parameters,
        runbook_id=row.runbook_id,
        risk=row.risk,
        policy=PolicyDecision(row.policy),
        digest=row.digest,
        status=ActionStatus(row.status),
        approvers=row.approvers,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decided_via=row.decided_via,
    )


def _digest_matches(expected: str, given: str) -> bool:
    given = given.strip().lower()
    if len(given) < MIN_DIGEST_PREFIX or len(given) > len(expected):
        return False
    return hmac.compare_digest(expected[: len(given)], given)


def _expired(row: Any, now: datetime) -> bool:
    return row.expires_at is not None and row.expires_at <= now


class SqlActionStore:
    def __init__(self, engine: Engine, clock: Clock, ttl: timedelta = DEFAULT_TTL) -> None:
        """`ttl`: how long a proposal stays decidable when `save_proposed` is not given `expires_at`."""
        self._engine = engine
        self._writer = writer(engine)
        self._gate = gate_for(engine)
        self._clock = clock
        self._ttl = ttl

    @contextmanager
    def _write(self, what: str) -> Iterator[Connection]:
        with translate_errors(what), self._gate.background(), self._writer.begin() as connection:
            yield connection

    def _locked(self, connection: Connection, action_id: str) -> Any:
        row = connection.execute(sa.select(actions).where(actions.c.id == action_id).with_for_update()).first()
        if row is None:
            raise UnknownAction(f"no action {action_id!r}")
        return row

    def save_proposed(
        self,
        proposed: Sequence[ProposedAction],
        *,
        expires_at: datetime | None = None,
        approvers: Mapping[str, str] | None = None,
    ) -> int:
        """Insert the actions that are not stored yet (by id); returns how many were inserted."""
        if not proposed:
            return 0
        now = self._clock.now()
        deadline = expires_at or now + self._ttl
        with self._write("save proposed actions") as connection:
            ids = [action.id for action in proposed]
            known = set(connection.execute(sa.select(actions.c.id).where(actions.c.id.in_(ids))).scalars())
            rows = [
                {
                    **action.model_dump(mode="json", exclude={"decided_at"}),
                    "decided_at": action.decided_at,
                    "approvers": (approvers or {}).get(action.id) or action.approvers,
                    "created_at": now,
                    "expires_at": deadline,
                }
                for action in proposed
                if action.id not in known
            ]
            rows = list({row["id"]: row for row in rows}.values())
            if rows:
                connection.execute(sa.insert(actions), rows)
        return len(rows)

    def get(self, action_id: str) -> ProposedAction | None:
        record = self.record(action_id)
        return record.action if record else None

    def record(self, action_id: str) -> ActionRecord | None:
        with translate_errors(f"read action {action_id}"), self._engine.connect() as connection:
            row = connection.execute(sa.select(actions).where(actions.c.id == action_id)).first()
        if row is None:
            return None
        return ActionRecord(_action(row), row.approvers, row.created_at, row.expires_at, row.plan, row.result)

    def for_incident(self, incident_id: str) -> list[ProposedAction]:
        """The incident's actions in the order they were proposed."""
        with translate_errors(f"read actions of {incident_id}"), self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(actions)
                .where(actions.c.incident_id == incident_id)
                .order_by(actions.c.created_at, actions.c.kind == "escalate", actions.c.id)
            )
            return [_action(row) for row in rows]

    def _set(self, connection: Connection, action_id: str, **values: Any) -> ProposedAction:
        connection.execute(sa.update(actions).where(actions.c.id == action_id).values(**values))
        return _action(self._locked(connection, action_id))

    def decide(
        self,
        action_id: str,
        digest: str,
        approve: bool,
        who: str,
        via: str,
        outbox: Callable[[ProposedAction], Sequence[OutboxItem]] | None = None,
    ) -> ProposedAction:
        """Approve or reject `action_id` as it was shown (its digest). `outbox` builds the ticket/issue updates
        that echo the decision; they are queued in the same transaction as the decision."""
        target = A.APPROVED if approve else A.REJECTED
        now = self._clock.now()
        with self._write(f"decide action {action_id}") as connection:
            row = self._locked(connection, action_id)
            if not _digest_matches(row.digest, digest):
                shown = row.digest[:MIN_DIGEST_PREFIX]
                raise DigestMismatch(f"action {action_id} has digest {shown}..., not {digest[:64]!r}")
            current = ActionStatus(row.status)
            if current is not A.PROPOSED:
                by = f" by {row.decided_by}" if row.decided_by else ""
                raise ActionNotPending(f"action {action_id} is already {current.value}{by}: nothing was changed")
            if not _expired(row, now):
                advance_action(current, target)
                decided = self._set(
                    connection, action_id, status=target.value, decided_by=who, decided_at=now, decided_via=via
                )
                if outbox is not None:
                    enqueue(connection, list(outbox(decided)), now)
                request_resume(connection, [row.incident_id])
                return decided
            self._set(connection, action_id, status=advance_action(current, A.EXPIRED).value)
            request_resume(connection, [row.incident_id])
        raise ActionExpired(f"action {action_id} expired at {row.expires_at.isoformat()}")

    def mark_executing(self, action_id: str, plan: dict[str, Any] | None = None) -> ProposedAction:
        """APPROVED (or PROPOSED with an AUTO policy) -> EXECUTING, recording the dry-run plan. An expired
        action is set to EXPIRED and ActionExpired raised; one that needs approval raises ApprovalRequired."""
        return self._advance(action_id, A.EXECUTING, {"plan": plan} if plan is not None else {})

    def mark_succeeded(self, action_id: str, result: dict[str, Any]) -> ProposedAction:
        return self._advance(action_id, A.SUCCEEDED, {"result": result})

    def mark_failed(self, action_id: str, reason: str) -> ProposedAction:
        """EXECUTING -> FAILED; an action that failed before it started (dry run, no executor) goes through
        EXECUTING on the way, under the same approval and expiry checks as `mark_executing`."""
        return self._advance(action_id, A.FAILED, {"result": {"error": reason}})

    def _advance(self, action_id: str, target: ActionStatus, values: dict[str, Any]) -> ProposedAction:
        now = self._clock.now()
        with self._write(f"mark action {action_id} {target.value}") as connection:
            row = self._locked(connection, action_id)
            current = ActionStatus(row.status)
            if current is target:
                return _action(row)
            starting = current in (A.PROPOSED, A.APPROVED) and target in (A.EXECUTING, A.FAILED)
            if starting and current is A.PROPOSED and row.policy != PolicyDecision.AUTO.value:
                raise ApprovalRequired(f"action {action_id} needs approval before it runs")
            # Only an approval goes stale: an automatic action (e.g. the escalation `close` carries out after a
            # long wait) has no deadline to miss.
            if not (starting and row.policy == PolicyDecision.APPROVAL.value and _expired(row, now)):
                via = advance_action(current, A.EXECUTING) if starting and target is A.FAILED else current
                status = advance_action(via, target)
                return self._set(connection, action_id, status=status.value, **values)
            self._set(connection, action_id, status=advance_action(current, A.EXPIRED).value)
        raise ActionExpired(f"action {action_id} expired at {row.expires_at.isoformat()}")

    def expire_due(self, now: datetime | None = None, effects: Effects | None = None) -> list[str]:
        """Set every proposed or approved action whose deadline has passed to EXPIRED; returns their ids.
        `effects` says, per incident, what the expiry writes with it (see store.expiry)."""
        moment = now or self._clock.now()
        with self._write("expire actions") as connection:
            return expire_due(connection, moment, _action, effects)
