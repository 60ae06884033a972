"""Edge functions of the investigation graph around approvals: what runs now, and when to wait again."""

from __future__ import annotations

from typing import Any

import pytest

from oncall_agent.investigation.nodes.execute import to_run
from oncall_agent.investigation.routing import after_approval, after_report, after_verify


def action(
    ident: str, kind: str = "ecs.rollback", policy: str = "approval", status: str = "proposed"
) -> dict[str, Any]:
    return {
        "id": ident,
        "incident_id": "inc-1",
        "kind": kind,
        "runbook_id": "rb",
        "policy": policy,
        "digest": "0" * 64,
        "status": status,
    }


ESCALATE = action("act-e", "escalate", "auto")


def test_only_what_may_run_and_has_not_run_is_run() -> None:
    actions = [
        action("act-a", status="approved"),
        action("act-b"),  # waits for a decision
        action("act-c", status="succeeded"),  # ran in an earlier round
        action("act-d", status="rejected"),
        action("act-f", "ecs.scale", "auto"),  # allowed without approval
        action("act-g", status="executing"),  # interrupted mid-run: finish it
        ESCALATE,  # the fallback, carried out by `close`
    ]
    assert [a.id for a in to_run(actions)] == ["act-a", "act-f", "act-g"]


def test_after_approval_runs_an_approved_action_even_while_a_sibling_waits() -> None:
    assert after_approval({"actions": [action("act-a", status="approved"), action("act-b"), ESCALATE]}) == "execute"
    assert after_approval({"actions": [action("act-a", status="succeeded"), action("act-b", status="expired")]}) == (
        "close"
    )


def test_after_report_waits_when_anything_needs_approval() -> None:
    assert after_report({"actions": [action("act-a"), ESCALATE]}) == "await_approval"
    assert after_report({"actions": [action("act-f", "ecs.scale", "auto"), ESCALATE]}) == "execute"
    assert after_report({"actions": [ESCALATE]}) == "close"


@pytest.mark.parametrize(
    ("resolved", "sibling", "expected"),
    [
        (True, "proposed", "close"),  # fixed: a sibling still waiting is not needed
        (False, "proposed", "await_approval"),  # not fixed, and a person may still approve the sibling
        (False, "rejected", "close"),
        (False, "expired", "close"),
    ],
)
def test_after_verify_goes_back_to_waiting_only_when_unresolved_with_undecided_siblings(
    resolved: bool, sibling: str, expected: str
) -> None:
    state = {
        "actions": [action("act-a", status="succeeded"), action("act-b", status=sibling), ESCALATE],
        "outcome": {"resolved": resolved, "reason": "x"},
    }
    assert after_verify(state) == expected  # type: ignore[arg-type]
