"""Who may decide, deciding once, and expiry by the reaper job: through the approval service, the real graph,
worker and store (SQLite file + SqliteSaver)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from oncall_agent.domain.action import ActionStatus
from oncall_agent.response.approvals import NotAnApprover
from oncall_agent.store.actions import ActionNotPending
from tests.contract.store_fixtures import T0
from tests.integration.approval_world import ESCALATE, ROLLBACK, SCALE, World


@pytest.fixture()
def world(tmp_path: Path) -> Iterator[World]:
    found = World(tmp_path)
    found.planned(ROLLBACK, SCALE, ESCALATE)
    assert found.busy_rounds(1) == 1  # report, then the approval interrupt
    yield found
    found.close()


@pytest.mark.parametrize(
    ("who", "why"),
    [
        ("carol", "carol is not in group storefront"),  # another team
        ("dave", "dave is not in group storefront"),  # an old-style token: default group `oncall` only
        ("mallory", "mallory is not a configured approver"),
    ],
)
@pytest.mark.parametrize("approve", [True, False])
def test_a_person_outside_the_group_is_refused_and_nothing_is_written(
    world: World, who: str, why: str, approve: bool
) -> None:
    before = world.notes()
    with pytest.raises(NotAnApprover, match=why):
        world.approvals.decide(ROLLBACK.id, ROLLBACK.digest, approve, who, "api")
    assert world.status(ROLLBACK) is ActionStatus.PROPOSED
    assert world.timeline("decision") == [] and world.notes() == before
    assert world.busy_rounds(3) == 0  # nothing to resume
    world.approvals.decide(ROLLBACK.id, ROLLBACK.digest, approve, "bob", "api")  # bob is in storefront
    assert world.status(ROLLBACK) is (ActionStatus.APPROVED if approve else ActionStatus.REJECTED)


@pytest.mark.parametrize(
    ("first", "second"), [(True, True), (False, True), (True, False), (False, False)], ids=["aa", "ra", "ar", "rr"]
)
def test_a_decision_on_a_decided_action_writes_nothing(world: World, first: bool, second: bool) -> None:
    decided = world.approvals.decide(ROLLBACK.id, ROLLBACK.digest, first, "alice", "api")
    timeline, notes = world.timeline("decision"), world.notes()
    assert len(timeline) == 1 and sum("by alice" in text for _op, text in notes) == 2  # work note + comment
    world.clock.at = T0 + timedelta(minutes=1)
    with pytest.raises(ActionNotPending, match=f"already {decided.status.value} by alice"):
        world.approvals.decide(ROLLBACK.id, ROLLBACK.digest, second, "bob", "cli")
    assert world.actions.get(ROLLBACK.id) == decided
    assert world.timeline("decision") == timeline and world.notes() == notes


def test_the_reaper_expires_the_proposals_escalates_and_says_why(world: World) -> None:
    assert world.reaper.run_once() == []  # nothing due yet
    world.clock.at = T0 + timedelta(hours=1, seconds=1)
    assert world.reaper.run_once() == sorted([ROLLBACK.id, SCALE.id])
    assert (world.status(ROLLBACK), world.status(SCALE)) == (ActionStatus.EXPIRED, ActionStatus.EXPIRED)
    assert world.incident_status() == "escalated"
    notes = world.notes()
    expired = [text for op, text in notes if op == "servicenow.work_note" and "No decision in time" in text]
    assert len(expired) == 1 and ROLLBACK.id in expired[0] and "group storefront" in expired[0]
    assert any(op == "servicenow.work_note" and text.startswith("Escalated to storefront") for op, text in notes)
    assert ("github.labels", "['oncall-agent', 'status:escalated']") in notes
    assert world.reaper.run_once() == [] and world.notes() == notes  # once
    # The waiting graph is woken once and finishes its thread without writing the escalation twice; it adds
    # only what makes the escalation reach people (the ServiceNow group/priority, the GitHub assignees).
    assert world.busy_rounds(3) == 1
    assert world.status(ESCALATE) is ActionStatus.SUCCEEDED
    reach = world.notes()[len(notes) :]
    assert world.notes()[: len(notes)] == notes and world.executor.executed == []
    assert [op for op, _text in reach] == ["servicenow.escalate"]  # no GitHub people mapped in this world
    assert world.busy_rounds(3) == 0


def test_an_expiry_with_an_approved_sibling_does_not_escalate(world: World) -> None:
    world.approvals.decide(ROLLBACK.id, ROLLBACK.digest, True, "alice", "api")
    assert world.busy_rounds(1) == 1 and world.executor.executed == [ROLLBACK.id]
    world.clock.at = T0 + timedelta(hours=2)
    assert world.reaper.run_once() == [SCALE.id]
    assert world.status(ROLLBACK) is ActionStatus.SUCCEEDED  # ran when approved: nothing left to expire
    assert world.busy_rounds(3) == 1  # woken by the expiry: nothing undecided is left, so it closes
    assert world.incident_status() == "escalated"  # the rollback could not be verified here (no alarm states)
    assert any("act-" in text and "expired" in text for _op, text in world.notes())


def test_a_late_approval_is_refused_after_the_reaper_expired_the_action(world: World) -> None:
    world.clock.at = T0 + timedelta(hours=3)
    world.reaper.run_once()
    with pytest.raises(ActionNotPending, match="already expired"):
        world.approvals.decide(ROLLBACK.id, ROLLBACK.digest, True, "alice", "api")
    assert world.timeline("decision") == []
