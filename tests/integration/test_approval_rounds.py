"""The real investigation graph, worker and store (SQLite file + SqliteSaver) with two actions awaiting
approval: a decided action runs when it is decided while its sibling waits, and a half-decided incident is not
resumed again and again (the worker finds nothing to do until the next decision)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from oncall_agent.domain.action import ActionStatus
from tests.integration.approval_world import ESCALATE, ROLLBACK, SCALE, World


@pytest.fixture()
def world(tmp_path: Path) -> Iterator[World]:
    found = World(tmp_path)
    yield found
    found.close()


def test_the_approved_action_runs_while_its_sibling_waits_and_the_incident_does_not_spin(world: World) -> None:
    world.planned(ROLLBACK, SCALE, ESCALATE)
    assert world.busy_rounds(1) == 1  # report, then the approval interrupt
    assert world.incident_status() == "awaiting_approval"
    assert world.busy_rounds(5) == 0  # nothing decided: nothing to do

    world.approvals.decide(ROLLBACK.id, ROLLBACK.digest, True, "alice", "api")
    assert world.busy_rounds(1) == 1
    # Not resolved (no alarm states to verify with) and the sibling is open: back to waiting, without spinning.
    assert world.busy_rounds(20) == 0
    assert world.executor.executed == [ROLLBACK.id]  # it ran although the scale-out is undecided
    assert world.status(ROLLBACK) is ActionStatus.SUCCEEDED
    assert world.status(SCALE) is ActionStatus.PROPOSED
    assert world.incident_status() == "awaiting_approval"
    waiting = [text for op, text in world.notes() if op == "servicenow.work_note" and "still waiting" in text]
    assert len(waiting) == 1 and f"ecs.scale {SCALE.id} (group storefront)" in waiting[0]

    world.approvals.decide(SCALE.id, SCALE.digest, False, "bob", "cli")
    assert world.busy_rounds(3) == 1
    assert world.executor.executed == [ROLLBACK.id]  # the rejected one never runs, the first never twice
    assert world.incident_status() == "escalated"
    assert world.status(ESCALATE) is ActionStatus.SUCCEEDED


def test_a_decision_while_the_first_action_runs_is_not_lost(world: World) -> None:
    world.planned(ROLLBACK, SCALE, ESCALATE)
    world.busy_rounds(1)
    world.approvals.decide(ROLLBACK.id, ROLLBACK.digest, True, "alice", "api")
    world.approvals.decide(SCALE.id, SCALE.digest, True, "alice", "api")
    assert world.busy_rounds(4) >= 1
    assert sorted(world.executor.executed) == sorted([ROLLBACK.id, SCALE.id])
    assert world.incident_status() == "escalated"  # both ran, neither could be verified
    assert world.busy_rounds(5) == 0
