"""Approvals by GitHub comment: an `issue_comment` `created` event whose body has a line `/approve <action-id>`
or `/reject <action-id>` (optionally followed by the digest shown on the issue) on an incident's issue.

The issue is the incident's only if its hidden marker names an incident whose recorded links (github_repo,
github_issue) are this very issue: anyone can paste a marker. The commenter must hold at least the configured
repository permission (asked from GitHub at that moment, never cached) and be in the action's approver group:
either mapped to an approver of that group (`approvals.github_users`), or an active member of the GitHub team
the group is mapped to (`approvals.github_teams`, asked from GitHub at that moment); a team member who is not
mapped decides as `github:<login>`. The decision then goes through ApprovalService, the same path as the API.
The agent answers every command with a comment saying what happened, keyed by the
comment id through the outbox: a redelivered webhook (same comment) finds its answer's key and does nothing.
Edited and deleted comments, other events and the agent's own comments are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from oncall_agent.coordination.render import MARKER_PREFIX, md
from oncall_agent.domain.action import ProposedAction
from oncall_agent.domain.errors import OncallAgentError, PayloadError, SourceError
from oncall_agent.response.approvals import ApprovalService, NotAnApprover
from oncall_agent.store.actions import UnknownAction
from oncall_agent.store.outbox import OutboxItem

_COMMAND = re.compile(r"^[ \t]*/(approve|reject)[ \t]+(act-[0-9a-f]{6,64})(?:[ \t]+([0-9a-f]{12,64}))?[ \t]*$", re.M)
_MARKER = re.compile(r"<!-- " + re.escape(MARKER_PREFIX) + r"([A-Za-z0-9_.:-]+) -->")
_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$")
PERMISSION_RANK = {"none": 0, "read": 1, "triage": 1, "write": 2, "maintain": 2, "admin": 3}


@dataclass(frozen=True)
class CommentOutcome:
    status: int  # the HTTP status to answer the delivery with
    outcome: str  # approved | rejected | refused | ignored | duplicate
    detail: str


@dataclass(frozen=True)
class _Comment:
    repo: str
    issue: int
    comment_id: int
    login: str
    approve: bool
    action_id: str
    digest: str | None
    incident_id: str


class CommentApprovals:
    def __init__(
        self,
        approvals: ApprovalService,
        outbox: Any,  # store.outbox.SqlOutbox: links, for_incident, enqueue
        permission: Callable[[str, str], str],  # (repo, login) -> admin | write | read | none, asked live
        bot_login: Callable[[], str],
        github_users: Mapping[str, str],
        min_permission: str,
        github_teams: Mapping[str, str] | None = None,  # approver group -> GitHub team `org/team-slug`
        team_member: Callable[[str, str], bool] | None = None,  # (team, login) -> active member, asked live
    ) -> None:
        self._approvals = approvals
        self._outbox = outbox
        self._permission = permission
        self._bot_login = bot_login
        self._users = {login.lower(): name for login, name in github_users.items()}
        self._min = min_permission
        self._teams = dict(github_teams or {})
        self._team_member = team_member

    def handle(self, event: str | None, payload: dict[str, Any]) -> CommentOutcome:
        if event != "issue_comment":
            return CommentOutcome(200, "ignored", f"event {event or '(none)'} is not issue_comment")
        if payload.get("action") != "created":
            return CommentOutcome(200, "ignored", f"comment {payload.get('action')}: only new comments decide")
        found = self._command(payload)
        if isinstance(found, str):
            return CommentOutcome(200, "ignored", found)
        key = f"{found.incident_id}:github-comment:{found.comment_id}"
        if any(row.key == key for row in self._outbox.for_incident(found.incident_id)):
            return CommentOutcome(200, "duplicate", f"comment {found.comment_id} was already answered")
        try:
            action = self._decide(found, key)
        except (OncallAgentError, LookupError) as exc:
            status = _refusal_status(exc)
            self._outbox.enqueue([_answer(found, key, f"not done: {exc}")])
            return CommentOutcome(status, "refused", str(exc))
        verb = "approved" if found.approve else "rejected"
        return CommentOutcome(200, verb, f"{action.kind} {action.id} {verb} by {action.decided_by}")

    def _command(self, payload: dict[str, Any]) -> _Comment | str:
        """The command in the comment, or why there is none to act on (a string)."""
        repo, issue, comment = _field(payload, "repository"), _field(payload, "issue"), _field(payload, "comment")
        login = str(_field(comment, "user").get("login") or "")
        if not _LOGIN.match(login):
            raise PayloadError(f"comment.user.login is not a GitHub login: {login[:60]!r}")
        if login.lower() == self._bot_login().lower():
            return "the agent's own comment"
        command = _COMMAND.search(str(comment.get("body") or ""))
        if command is None:
            return "no /approve or /reject command in the comment"
        marker = _MARKER.search(str(issue.get("body") or ""))
        if marker is None:
            return "the issue is not an incident's issue (no marker)"
        incident_id, full_name, number = marker.group(1), str(repo.get("full_name") or ""), issue.get("number")
        links = self._outbox.links(incident_id)
        if links.get("github_repo", "").lower() != full_name.lower() or links.get("github_issue") != str(number):
            return f"the issue is not the one recorded for incident {incident_id}"
        if not isinstance(comment.get("id"), int) or not isinstance(number, int):
            raise PayloadError("comment.id and issue.number must be integers")
        verb, action_id, digest = command.groups()
        return _Comment(full_name, number, comment["id"], login, verb == "approve", action_id, digest, incident_id)

    def _decide(self, found: _Comment, key: str) -> ProposedAction:
        action, group = self._approvals.group_of(found.action_id)
        if action.incident_id != found.incident_id:
            raise UnknownAction(f"{found.action_id} is not an action of incident {found.incident_id}")
        name, by_team = self._who(found, group)
        self._check_permission(found)
        verb = "approved" if found.approve else "rejected"

        def answer(decided: ProposedAction) -> list[OutboxItem]:
            done = f"{verb} {decided.kind} {decided.id} as {name} (group {group}, digest {decided.digest[:12]})"
            return [_answer(found, key, done)]

        digest = found.digest or action.digest  # the id names one digest: actions never change once proposed
        via = f"github comment by {found.login}" + (f" (team {self._teams[group]})" if by_team else "")
        return self._approvals.decide(
            found.action_id, digest, found.approve, name, via, also=answer, member_checked=by_team
        )

    def _who(self, found: _Comment, group: str) -> tuple[str, bool]:
        """Who the commenter decides as, and whether GitHub (team membership) rather than settings put them
        in `group`; NotAnApprover, saying why, when neither does."""
        name = self._users.get(found.login.lower())
        if name is not None and self._approvals.in_group(name, group):
            return name, False
        team = self._teams.get(group)
        if team is None or self._team_member is None:
            if name is None:
                raise NotAnApprover(
                    f"GitHub user {found.login} is not mapped to an approver (approvals.github_users) and group "
                    f"{group} is not mapped to a GitHub team (approvals.github_teams)"
                )
            return name, False  # the directory refuses it, naming the person's groups
        try:
            member = self._team_member(team, found.login)
        except SourceError as exc:
            raise PermissionUnknown(f"could not check {found.login}'s membership of {team}: {exc}") from exc
        if not member:
            raise NotAnApprover(
                f"{found.login} is not an active member of GitHub team {team}, which approves for group {group}"
            )
        return name or f"github:{found.login}", True

    def _check_permission(self, found: _Comment) -> None:
        try:
            level = self._permission(found.repo, found.login)
        except SourceError as exc:
            raise PermissionUnknown(f"could not check {found.login}'s permission on {found.repo}: {exc}") from exc
        if PERMISSION_RANK.get(level, 0) < PERMISSION_RANK[self._min]:
            held = "no" if level == "none" else level
            raise NotAnApprover(f"{found.login} has {held} permission on {found.repo}; {self._min} is needed")


class PermissionUnknown(OncallAgentError):
    """GitHub did not say what permission the commenter has: nothing is decided."""


def _answer(found: _Comment, key: str, text: str) -> OutboxItem:
    body = f"@{found.login} {md(text, 1500)}"
    return OutboxItem(key, found.incident_id, "github", "github.comment", {"body": body, "key": key})


def _refusal_status(exc: Exception) -> int:
    if isinstance(exc, NotAnApprover):
        return 403
    if isinstance(exc, UnknownAction | LookupError):
        return 404
    if isinstance(exc, PermissionUnknown):
        return 503
    return 409  # DigestMismatch, ActionNotPending (decided, expired): as the API answers


def _field(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    if not isinstance(value, dict):
        raise PayloadError(f"{name} must be an object in an issue_comment event")
    return value
