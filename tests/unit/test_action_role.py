"""Session names and tags of the action role (adapters.aws.action_role) and its settings (settings.actions)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from oncall_agent.adapters.aws.action_role import ActionRoleClients, ActionRoleUnavailable, session_name, session_tags
from oncall_agent.domain.action import ProposedAction
from oncall_agent.settings import ActionRoleSettings

ROLE = "arn:aws:iam::123456789012:role/oncall-action"


def action(action_id: str = "act-1", decided_by: str | None = "alice") -> ProposedAction:
    return ProposedAction(
        id=action_id, incident_id="inc-1", kind="ecs.rollback", runbook_id="r", digest="d", decided_by=decided_by
    )


def test_the_session_name_is_the_action_id_in_what_sts_accepts() -> None:
    assert session_name(action("act-7f3a")) == "oncall-act-7f3a"
    assert session_name(action("act 1/ü*")) == "oncall-act-1-ü-"  # \w is Unicode-aware, as STS's pattern is
    assert len(session_name(action("a" * 100))) == 64


def test_session_tags_name_the_approval_and_keep_to_the_tag_value_alphabet() -> None:
    tags = {t["Key"]: t["Value"] for t in session_tags(action(decided_by="eve<script>"))}
    assert tags["oncall-agent:approved-by"] == "eve_script_"
    assert {t["Value"] for t in session_tags(action(decided_by=None))} >= {"policy"}  # an auto action


def test_the_target_accounts_role_wins_over_the_default() -> None:
    other = "arn:aws:iam::210987654321:role/oncall-action"
    clients = ActionRoleClients(
        lambda region: None,
        lambda *args: None,
        default_role=ROLE,
        roles_by_account={"210987654321": other},
        account_of=lambda a: "210987654321" if a.id == "act-there" else None,
    )
    assert clients.role_for(action("act-there")) == other
    assert clients.role_for(action("act-here")) == ROLE
    lonely = ActionRoleClients(
        lambda region: None, lambda *args: None, default_role=None, roles_by_account={}, account_of=lambda a: None
    )
    with pytest.raises(ActionRoleUnavailable, match="no action role for account None"):
        lonely.role_for(action())


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"role_arn": "oncall-action"}, "not an IAM role ARN"),
        ({"roles_by_account": {"12345": ROLE}}, "12-digit account id"),
        ({"roles_by_account": {"123456789012": "arn:aws:iam::123456789012:user/bob"}}, "12-digit account id"),
        ({"session_seconds": 60}, "greater than or equal to 900"),
    ],
)
def test_bad_action_role_settings_name_the_problem(settings: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        ActionRoleSettings.model_validate(settings)


def test_no_role_means_disabled() -> None:
    assert not ActionRoleSettings().enabled
    assert ActionRoleSettings(role_arn=ROLE).enabled
