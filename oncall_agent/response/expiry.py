"""The expiry reaper: a job that expires proposals nobody decided in time, and says so.

Each run sets every proposed (or approved but not started) action past its deadline to EXPIRED and, in the
same transaction (store.expiry): a timeline entry; for an incident still active, a ServiceNow work note and a
GitHub comment naming the expired actions and the group that did not decide; and, when the incident was
waiting for approval and nothing else of it can still run (no approval action proposed, approved or
executing), the incident escalated with the closing ticket/issue updates saying why. The waiting graph is
woken (the store flags the incident) and finishes its thread; its `close` sees the escalation already written
and writes nothing twice. Notes have keys per incident and action set, so they are queued once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from oncall_agent.domain.action import DEFAULT_APPROVERS
from oncall_agent.domain.incident import IncidentStatus, is_active
from oncall_agent.store.expiry import ExpiredGroup, ExpiryEffects


class ExpiryReaper:
    def __init__(
        self,
        actions: Any,  # store.actions.SqlActionStore
        progress: Callable[[str, str, str], list[Any]],  # Messenger.progress
        closed: Callable[[str, bool, str], list[Any]],  # Messenger.closed
        on_expired: Callable[[], None] = lambda: None,  # wake the investigation workers
    ) -> None:
        self._actions = actions
        self._progress = progress
        self._closed = closed
        self._on_expired = on_expired

    def run_once(self) -> list[str]:
        """Expire what is due now; returns the expired action ids."""
        expired: list[str] = self._actions.expire_due(effects=self.effects)
        if expired:
            self._on_expired()
        return expired

    def effects(self, group: ExpiredGroup) -> ExpiryEffects:
        """What the expiry of `group.expired` writes about its incident (called inside the transaction)."""
        incident_id = group.incident_id
        names = "; ".join(
            f"{a.kind} {a.id} (group {a.approvers or DEFAULT_APPROVERS}, "
            f"deadline {group.expires_at[a.id]:%Y-%m-%d %H:%M} UTC)"
            for a in group.expired
        )
        text = f"No decision in time: {names} expired and will not be executed."
        if not is_active(group.incident_status):
            return ExpiryEffects(timeline=text)  # a resolved incident's leftover proposal: nothing to tell
        key = f"{incident_id}:expired:" + "+".join(a.id for a in group.expired)
        outbox = self._progress(incident_id, key, text)
        if group.incident_status is not IncidentStatus.AWAITING_APPROVAL or group.still_open:
            return ExpiryEffects(timeline=text, outbox=outbox)
        teams = sorted({a.approvers or DEFAULT_APPROVERS for a in group.expired})
        reason = "no approval before the proposed actions expired"
        outbox += self._closed(incident_id, False, f"Escalated to {', '.join(teams)}: {reason} ({names})")
        return ExpiryEffects(timeline=text, outbox=outbox, escalate=reason)
