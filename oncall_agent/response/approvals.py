"""Approval decisions: made only by a member of the action's approver group, bound to the action digest,
recorded with who/when/channel, echoed to the tickets (the outbox rows are written in the same transaction as
the decision), and the investigation woken so the waiting graph thread resumes.

Who belongs to which group is the `ApproverDirectory` (built from settings `approvals`): a person listed with
`groups` is in those; a person listed without groups, and every old-style `approvals.tokens` entry, is in the
default groups (`oncall` unless configured); a name the directory does not know is in no group.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from oncall_agent.domain.action import DEFAULT_APPROVERS, ProposedAction
from oncall_agent.domain.errors import OncallAgentError
from oncall_agent.lifecycle import lifecycle
from oncall_agent.store.actions import UnknownAction


class NotAnApprover(OncallAgentError):
    """The person is not in the action's approver group: the decision is refused and nothing is written."""


class ChangeRequired(NotAnApprover):
    """The action is approved only by its ServiceNow change request (rejecting it anywhere is still allowed)."""


@dataclass(frozen=True)
class Approver:
    name: str
    groups: frozenset[str]
    token: str | None = None  # bearer token for the HTTP API; None: CLI only


class ApproverDirectory:
    def __init__(self, approvers: Iterable[Approver]) -> None:
        self._by_name = {approver.name: approver for approver in approvers}

    def tokens(self) -> dict[str, str]:
        """name -> bearer token, for the API's constant-time token check."""
        return {a.name: a.token for a in self._by_name.values() if a.token}

    def groups_of(self, name: str) -> frozenset[str]:
        found = self._by_name.get(name)
        return found.groups if found else frozenset()

    def check(self, name: str, action: ProposedAction, group: str) -> None:
        """Raise NotAnApprover unless `name` is in `group`; the message says who may decide instead."""
        if name not in self._by_name:
            raise NotAnApprover(
                f"{name} is not a configured approver (approvals.approvers): {action.id} needs a member of {group}"
            )
        mine = self.groups_of(name)
        if group not in mine:
            theirs = ", ".join(sorted(mine)) or "none"
            raise NotAnApprover(f"{name} is not in group {group}, which decides {action.id} (their groups: {theirs})")


def directory_from(
    approvers: Mapping[str, tuple[str | None, list[str]]], tokens: Mapping[str, str], default_groups: list[str]
) -> ApproverDirectory:
    """`approvers`: name -> (token, groups); `tokens`: the old name -> token map (members of default_groups)."""
    people = [Approver(name, frozenset(groups or default_groups), token) for name, (token, groups) in approvers.items()]
    people += [Approver(name, frozenset(default_groups), token) for name, token in tokens.items()]
    return ApproverDirectory(people)


def token_owner(tokens: Mapping[str, str], presented: str) -> str | None:
    """The name whose token is `presented`; every token is compared (no early exit: timing reveals nothing)."""
    name = None
    for candidate, token in tokens.items():
        if hmac.compare_digest(presented.encode(), token.encode()):
            name = candidate
    return name


def refusal_status(exc: Exception) -> int:
    """The HTTP-like status of a refused decision, the same for every channel that reports one (API, MCP):
    403 not in the action's group, 404 no such action, 409 digest mismatch or no longer waiting."""
    if isinstance(exc, NotAnApprover):
        return 403
    if isinstance(exc, LookupError | UnknownAction):
        return 404
    return 409


def decision_text(action: ProposedAction, approve: bool, who: str, via: str) -> str:
    verb = "approved" if approve else "rejected"
    return f"{action.kind} {action.id} {verb} by {who} via {via} (digest {action.digest[:12]})"


class ApprovalService:
    def __init__(
        self,
        actions: Any,  # store.actions.SqlActionStore
        results: Any,  # store.investigations.SqlInvestigationStore
        progress: Callable[[str, str, str], list[Any]],  # Messenger.progress
        directory: ApproverDirectory,
        on_decided: Callable[[], None] = lambda: None,
        needs_change: Callable[[ProposedAction], bool] = lambda _action: False,
    ) -> None:
        self._needs_change = needs_change
        self._actions = actions
        self._results = results
        self._progress = progress
        self._directory = directory
        self._on_decided = on_decided

    def tokens(self) -> dict[str, str]:
        """name -> bearer token of everyone who may use the HTTP API."""
        return self._directory.tokens()

    def in_group(self, name: str, group: str) -> bool:
        """Whether the directory (settings) puts `name` in `group`."""
        return group in self._directory.groups_of(name)

    def group_of(self, action_id: str) -> tuple[ProposedAction, str]:
        """The action and its approver group (actions stored before groups were: `oncall`)."""
        record = self._actions.record(action_id)
        if record is None:
            raise UnknownAction(f"no action {action_id!r}")
        return record.action, record.approvers or DEFAULT_APPROVERS

    def decide(
        self,
        action_id: str,
        digest: str,
        approve: bool,
        who: str,
        via: str,
        also: Callable[[ProposedAction], list[Any]] = lambda _action: [],
        by_change: bool = False,
        reason: str | None = None,
        member_checked: bool = False,
    ) -> ProposedAction:
        """Approve or reject `action_id` as shown with `digest`; raises if the person, digest or state does not
        fit (NotAnApprover; DigestMismatch, ActionNotPending from the store), writing nothing. `also`: more
        outbox items written in the decision's transaction (e.g. the answer to a GitHub comment). An action that
        requires a change is approved only `by_change` (ChangeRequired otherwise); any channel may reject it.
        `reason` (the decider's words) goes on the incident's timeline only, not into the ticket echoes.
        `member_checked`: the channel found `who` in the group itself (a live GitHub team membership), so the
        directory is not asked."""
        current, group = self.group_of(action_id)
        if not member_checked:
            self._directory.check(who, current, group)
        if approve and not by_change and self._needs_change(current):
            raise ChangeRequired(
                f"{current.kind} {action_id} is approved only through its ServiceNow change request (risk high)"
            )

        def echo(action: ProposedAction) -> list[Any]:
            key = f"{action.incident_id}:decision:{action.id}"
            return self._progress(action.incident_id, key, decision_text(action, approve, who, via)) + also(action)

        action: ProposedAction = self._actions.decide(action_id, digest, approve, who, via, outbox=echo)
        said = decision_text(action, approve, who, via)
        data: dict[str, Any] = {"action": action.id, "approved": approve, "by": who, "via": via, "group": group}
        if reason:
            said, data["reason"] = f"{said}: {reason}", reason
        self._results.record(action.incident_id, timeline=("decision", said, data))
        lifecycle(
            "action_decided",
            action.incident_id,
            action_id=action.id,
            kind=action.kind,
            approved=approve,
            by=who,
            via=via,
            group=group,
        )
        self._on_decided()
        return action
