"""Per-approval credentials: the AWS client an approved action runs with, from an action role assumed through STS
for that one action.

The task's own credentials only read. Each execution assumes the action role of the target's account with the
action id in the session name (`oncall-<action id>`) and session tags (action, incident, approver, kind), so the
CloudTrail record of every change names the approval it came from. Temporary credentials live 15 minutes (the STS
minimum) and are never reused for another action.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from oncall_agent.domain.action import ProposedAction
from oncall_agent.domain.errors import SourceError

_SESSION_NAME_CHARS = re.compile(r"[^\w+=,.@-]")  # what RoleSessionName accepts
_TAG_VALUE_CHARS = re.compile(r"[^\w .:/=+@-]")  # what a session tag value accepts
SESSION_NAME_MAX, TAG_VALUE_MAX = 64, 256
TAG_PREFIX = "oncall-agent:"

# (service, region, access key id, secret access key, session token) -> a boto3 client
ClientMaker = Callable[[str, str, str, str, str], Any]


class ActionRoleUnavailable(SourceError):
    """No action role for the target's account, or STS refused to let the agent assume it."""


def session_name(action: ProposedAction) -> str:
    return ("oncall-" + _SESSION_NAME_CHARS.sub("-", action.id))[:SESSION_NAME_MAX]


def session_tags(action: ProposedAction) -> list[dict[str, str]]:
    values = {
        "action-id": action.id,
        "incident-id": action.incident_id,
        "approved-by": action.decided_by or "policy",
        "action-kind": action.kind,
    }
    return [
        {"Key": TAG_PREFIX + key, "Value": _TAG_VALUE_CHARS.sub("_", value)[:TAG_VALUE_MAX]}
        for key, value in values.items()
    ]


class ActionRoleClients:
    """Builds an action's client with the role of its account: `roles_by_account[account_of(action)]`, else
    `default_role`. `account_of` answers None when the target lives in the agent's own account."""

    def __init__(
        self,
        sts_for_region: Callable[[str], Any],
        make_client: ClientMaker,
        *,
        default_role: str | None,
        roles_by_account: dict[str, str],
        account_of: Callable[[ProposedAction], str | None],
        session_seconds: int = 900,
        external_id: str | None = None,
    ) -> None:
        self._sts_for_region = sts_for_region
        self._make_client = make_client
        self._default_role = default_role
        self._roles_by_account = dict(roles_by_account)
        self._account_of = account_of
        self._session_seconds = session_seconds
        self._external_id = external_id

    def role_for(self, action: ProposedAction) -> str:
        account = self._account_of(action)
        role = self._roles_by_account.get(account) if account else None
        role = role or self._default_role
        if role is None:
            raise ActionRoleUnavailable(f"no action role for account {account} (settings actions.roles_by_account)")
        return role

    def client(self, service: str, region: str, action: ProposedAction) -> Any:
        role = self.role_for(action)
        request: dict[str, Any] = {
            "RoleArn": role,
            "RoleSessionName": session_name(action),
            "DurationSeconds": self._session_seconds,
            "Tags": session_tags(action),
        }
        if self._external_id:
            request["ExternalId"] = self._external_id
        try:
            credentials = self._sts_for_region(region).assume_role(**request)["Credentials"]
        except (BotoCoreError, ClientError) as exc:
            raise ActionRoleUnavailable(f"cannot assume the action role {role}: {exc}") from exc
        return self._make_client(
            service,
            region,
            credentials["AccessKeyId"],
            credentials["SecretAccessKey"],
            credentials["SessionToken"],
        )
