"""Settings: the credentials approved actions run with (an action role assumed per approval, per account)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from oncall_agent.settings.base import Section

_ROLE_ARN = re.compile(r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_ACCOUNT = re.compile(r"^\d{12}$")


class ActionRoleSettings(Section):
    """The task's own credentials only read. An approved action assumes `role_arn` (or the role named for the
    target service's account in `roles_by_account`) through STS, with the action id in the session name and
    session tags, so CloudTrail attributes each change to its approval. Unset: actions run with the task's own
    credentials (the sandbox; a warning at start-up elsewhere)."""

    role_arn: str | None = None
    roles_by_account: dict[str, str] = Field(default_factory=dict)
    external_id: str | None = Field(default=None, min_length=2, max_length=1224)
    session_seconds: int = Field(default=900, ge=900, le=43200)  # STS minimum is 15 minutes

    @field_validator("role_arn")
    @classmethod
    def _role(cls, arn: str | None) -> str | None:
        if arn is not None and not _ROLE_ARN.match(arn):
            raise ValueError(f"not an IAM role ARN: {arn}")
        return arn

    @field_validator("roles_by_account")
    @classmethod
    def _roles(cls, roles: dict[str, str]) -> dict[str, str]:
        bad = [f"{account}: {arn}" for account, arn in roles.items() if not _ACCOUNT.match(account)]
        bad += [f"{account}: {arn}" for account, arn in roles.items() if not _ROLE_ARN.match(arn)]
        if bad:
            raise ValueError(f"want a 12-digit account id mapped to an IAM role ARN, not: {'; '.join(bad)}")
        return roles

    @property
    def enabled(self) -> bool:
        return self.role_arn is not None or bool(self.roles_by_account)
