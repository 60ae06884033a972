"""Approval decisions: bound to the action digest, recorded with who/when/channel, echoed to the tickets (the
outbox rows are written in the same transaction as the decision), and the investigation woken so the waiting
graph thread resumes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from oncall_agent.domain.action import ProposedAction


def decision_text(action: ProposedAction, approve: bool, who: str, via: str) -> str:
    verb = "approved" if approve else "rejected"
    return f"{action.kind} {action.id} {verb} by {who} via {via} (digest {action.digest[:12]})"


class ApprovalService:
    def __init__(
        self,
        actions: Any,  # store.actions.SqlActionStore
        results: Any,  # store.investigations.SqlInvestigationStore
        progress: Callable[[str, str, str], list[Any]],  # Messenger.progress
        on_decided: Callable[[], None] = lambda: None,
    ) -> None:
        self._actions = actions
        self._results = results
        self._progress = progress
        self._on_decided = on_decided

    def decide(self, action_id: str, digest: str, approve: bool, who: str, via: str) -> ProposedAction:
        """Approve or reject `action_id` as shown with `digest`; raises if the digest or state does not fit."""

        def echo(action: ProposedAction) -> list[Any]:
            key = f"{action.incident_id}:decision:{action.id}"
            return self._progress(action.incident_id, key, decision_text(action, approve, who, via))

        action: ProposedAction = self._actions.decide(action_id, digest, approve, who, via, outbox=echo)
        self._results.record(
            action.incident_id,
            timeline=(
                "decision",
                decision_text(action, approve, who, via),
                {"action": action.id, "approved": approve, "by": who, "via": via},
            ),
        )
        self._on_decided()
        return action
