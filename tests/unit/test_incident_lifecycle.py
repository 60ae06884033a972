"""Lifecycles in the domain: incident status transitions, action status transitions and the action digest."""

from __future__ import annotations

import itertools

import pytest

from oncall_agent.domain.action import ActionStatus, action_digest, advance_action
from oncall_agent.domain.errors import InvalidTransition
from oncall_agent.domain.incident import (
    ACTIVE_STATUSES,
    ALLOWED_TRANSITIONS,
    IncidentStatus,
    is_active,
    transition,
)

S = IncidentStatus
A = ActionStatus


def test_the_happy_path_is_allowed() -> None:
    path = [S.OPEN, S.INVESTIGATING, S.AWAITING_APPROVAL, S.MITIGATING, S.MONITORING, S.RESOLVED, S.CLOSED]
    for current, target in itertools.pairwise(path):
        assert transition(current, target) is target


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.OPEN, S.MITIGATING),  # nothing to mitigate before an investigation
        (S.RESOLVED, S.OPEN),  # a resolved incident is never reopened: new alarms open a new one
        (S.RESOLVED, S.INVESTIGATING),
        (S.CLOSED, S.OPEN),
        (S.RESOLVED, S.AWAITING_APPROVAL),  # a resolved incident's leftover proposals are never run
    ],
)
def test_forbidden_transitions_raise(current: IncidentStatus, target: IncidentStatus) -> None:
    with pytest.raises(InvalidTransition, match=f"from {current.value} to {target.value}"):
        transition(current, target)


def test_an_action_that_did_not_resolve_goes_back_to_waiting_for_its_siblings() -> None:
    assert transition(S.MONITORING, S.AWAITING_APPROVAL) is S.AWAITING_APPROVAL
    assert transition(S.MITIGATING, S.AWAITING_APPROVAL) is S.AWAITING_APPROVAL


@pytest.mark.parametrize("status", list(IncidentStatus))
def test_staying_put_is_always_allowed(status: IncidentStatus) -> None:
    assert transition(status, status) is status


def test_escalation_is_reachable_from_every_working_status() -> None:
    for status in (S.OPEN, S.INVESTIGATING, S.AWAITING_APPROVAL, S.MITIGATING, S.MONITORING):
        assert transition(status, S.ESCALATED) is S.ESCALATED
    assert transition(S.ESCALATED, S.INVESTIGATING) is S.INVESTIGATING


def test_closed_is_terminal_and_every_status_has_rules() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(IncidentStatus)
    assert ALLOWED_TRANSITIONS[S.CLOSED] == frozenset()


def test_only_resolved_and_closed_are_inactive() -> None:
    assert {s for s in IncidentStatus if not is_active(s)} == {S.RESOLVED, S.CLOSED}
    assert set(IncidentStatus) - ACTIVE_STATUSES == {S.RESOLVED, S.CLOSED}


# --- actions -----------------------------------------------------------------------------------------------


def test_digest_ignores_parameter_order_but_not_values_or_kind() -> None:
    a = action_digest("ecs_rollback", {"cluster": "prod", "service": "checkout", "revision": 41})
    b = action_digest("ecs_rollback", {"revision": 41, "service": "checkout", "cluster": "prod"})
    assert a == b
    assert len(a) == 64
    assert a != action_digest("ecs_rollback", {"cluster": "prod", "service": "checkout", "revision": 40})
    assert a != action_digest("ecs_scale", {"cluster": "prod", "service": "checkout", "revision": 41})


def test_digest_distinguishes_nested_parameters() -> None:
    assert action_digest("ssm", {"params": {"a": [1, 2]}}) != action_digest("ssm", {"params": {"a": [2, 1]}})


@pytest.mark.parametrize(
    "path",
    [
        [A.PROPOSED, A.APPROVED, A.EXECUTING, A.SUCCEEDED],
        [A.PROPOSED, A.APPROVED, A.EXECUTING, A.FAILED],
        [A.PROPOSED, A.EXECUTING, A.SUCCEEDED],  # policy said auto: no approval step
        [A.PROPOSED, A.REJECTED],
        [A.PROPOSED, A.APPROVED, A.EXPIRED],
    ],
)
def test_action_paths_that_are_allowed(path: list[ActionStatus]) -> None:
    for current, target in itertools.pairwise(path):
        assert advance_action(current, target) is target


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (A.REJECTED, A.EXECUTING),  # a rejected action is never executed
        (A.EXPIRED, A.EXECUTING),  # nor an expired one
        (A.EXPIRED, A.APPROVED),
        (A.SUCCEEDED, A.EXECUTING),
        (A.PROPOSED, A.SUCCEEDED),
        (A.APPROVED, A.APPROVED),  # unlike incidents, repeating an action status is not a no-op
    ],
)
def test_action_transitions_that_are_forbidden(current: ActionStatus, target: ActionStatus) -> None:
    with pytest.raises(InvalidTransition):
        advance_action(current, target)
