"""Settings: approvers, their groups and tokens, approval policy and escalation."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from oncall_agent.settings.base import Section

_GROUP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
_TEAM = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")  # org/team-slug


class ApproverSettings(Section):
    # Bearer token for the HTTP API (none: this person decides only with the CLI).
    token: SecretStr | None = None
    # The groups whose actions this person may decide (the policy's group: the service's `team` tag, or
    # `oncall`). Empty: `approvals.default_groups`.
    groups: list[str] = Field(default_factory=list)

    @field_validator("groups")
    @classmethod
    def _groups(cls, value: list[str]) -> list[str]:
        bad = [group for group in value if not _GROUP.match(group)]
        if bad:
            raise ValueError(f"not a group name: {', '.join(map(repr, bad))}")
        return value


class ApprovalSettings(Section):
    # name -> {token, groups}. A person decides only actions whose approver group is one of theirs.
    approvers: dict[str, ApproverSettings] = Field(default_factory=dict)
    # The old form, still valid: name -> bearer token. These people are members of `default_groups` only.
    tokens: dict[str, SecretStr] = Field(default_factory=dict)
    # Groups of everyone configured without `groups` (including every `tokens` entry). The default, `oncall`,
    # is the group of services without a `team` tag: an old-style token keeps approving those, and is refused
    # (403, naming the group) on a team's service until the person is listed under `approvers` with the team.
    default_groups: list[str] = Field(default_factory=lambda: ["oncall"])
    # GitHub login -> approver name: who a `/approve <action-id>` comment speaks for (unlisted: refused).
    github_users: dict[str, str] = Field(default_factory=dict)
    # Approver group -> GitHub team (`org/team-slug`): an active member of the team (checked live) may decide
    # that group's actions by comment, mapped in `github_users` or not (then as `github:<login>`).
    github_teams: dict[str, str] = Field(default_factory=dict)
    # The repository permission (as the collaborator-permission API reports it, checked live) a commenter needs.
    github_min_permission: Literal["read", "write", "admin"] = "write"
    # ServiceNow user name -> approver name: whose approval (or rejection) of a change request counts.
    servicenow_users: dict[str, str] = Field(default_factory=dict)
    # Policy flag: every high-risk action needing approval is decided by a change request, not only those
    # whose runbook says `change: required`.
    change_for_high_risk: bool = False
    # How often the leader reads the open change requests of waiting actions.
    change_poll_seconds: float = Field(default=30, ge=0.2, le=3600)

    @field_validator("github_teams")
    @classmethod
    def _github_teams(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [f"{group}: {team}" for group, team in value.items() if not _GROUP.match(group) or not _TEAM.match(team)]
        if bad:
            raise ValueError(f"want approver group -> org/team-slug, got {', '.join(map(repr, bad))}")
        return value

    @field_validator("tokens")
    @classmethod
    def _tokens(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        empty = [name for name, token in value.items() if not token.get_secret_value()]
        if empty:
            raise ValueError(f"empty token for {', '.join(empty)}")
        return value

    @model_validator(mode="after")
    def _one_identity_per_token(self) -> ApprovalSettings:
        both = sorted(set(self.approvers) & set(self.tokens))
        if both:
            raise ValueError(f"listed in both approvers and tokens: {', '.join(both)}")
        tokens = [t.get_secret_value() for t in self.tokens.values()]
        tokens += [a.token.get_secret_value() for a in self.approvers.values() if a.token is not None]
        if any(not token for token in tokens) or len(set(tokens)) != len(tokens):
            raise ValueError("every approver token must be non-empty and unique (a token names one person)")
        for field, mapping in (("github_users", self.github_users), ("servicenow_users", self.servicenow_users)):
            unknown = sorted({n for n in mapping.values() if n not in self.approvers and n not in self.tokens})
            if unknown:
                raise ValueError(f"{field} names people who are not approvers: {', '.join(unknown)}")
        return self


class EscalationSettings(Section):
    """Who an escalation reaches. Keys are teams: the escalate action's `team` (the service's `team` tag)."""

    servicenow_groups: dict[str, str] = Field(default_factory=dict)  # team -> ServiceNow assignment group
    github_assignees: dict[str, list[str]] = Field(default_factory=dict)  # team -> GitHub logins to assign
    # Pages go to this topic (PagerDuty, Opsgenie, email subscribe to it); None: no paging.
    sns_topic_arn: str | None = Field(default=None, pattern=r"^arn:aws[\w-]*:sns:[\w-]+:\d{12}:[\w.-]+$")
