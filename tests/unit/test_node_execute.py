"""The execute node on a real store (SQLite) with executors defined here: it runs only what was approved (or is
allowed without approval), only after a feasible dry run, once, and records every failure."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oncall_agent.domain.action import ActionStatus, PolicyDecision, ProposedAction
from oncall_agent.domain.incident import IncidentStatus
from oncall_agent.investigation.nodes import execute
from oncall_agent.ports import ActionPlan
from tests.unit.node_deps import INCIDENT, NodeWorld, node_world, proposed


class Executor:
    """Records dry runs and executions; `feasible`, `plan_error` and `error` script its answers."""

    def __init__(
        self, *, feasible: bool = True, plan_error: Exception | None = None, error: Exception | None = None
    ) -> None:
        self.feasible, self.plan_error, self.error = feasible, plan_error, error
        self.planned: list[str] = []
        self.executed: list[tuple[str, str]] = []

    def kinds(self) -> frozenset[str]:
        return frozenset({"ecs.rollback", "ecs.scale"})

    def plan(self, action: ProposedAction) -> ActionPlan:
        self.planned.append(action.id)
        if self.plan_error is not None:
            raise self.plan_error
        summary = "checkout runs checkout:118; would roll back" if self.feasible else "checkout:117 is deregistered"
        return ActionPlan(self.feasible, summary, {"task_definition": "checkout:118"}, {})

    def execute(self, action: ProposedAction, idempotency_key: str) -> dict[str, Any]:
        self.executed.append((action.id, idempotency_key))
        if self.error is not None:
            raise self.error
        return {"deployment": "ecs-svc/123"}


@pytest.fixture()
def world(tmp_path: Path) -> Iterator[NodeWorld]:
    yield from node_world(tmp_path)


def approved(world: NodeWorld, action: ProposedAction) -> dict[str, Any]:
    """The action saved, approved by dana, as the graph's state holds it after the approval."""
    world.actions.save_proposed([action])
    decided = world.actions.decide(action.id, action.digest, True, "dana", "cli")
    return decided.model_dump(mode="json")


def run(world: NodeWorld, executor: Executor, *actions: dict[str, Any]) -> list[dict[str, Any]]:
    node = execute.make(world.deps(executors=dict.fromkeys(executor.kinds(), executor)))
    return list(node({"incident_id": INCIDENT, "actions": list(actions)})["executed"])


def test_an_infeasible_dry_run_never_executes(world: NodeWorld) -> None:
    executor, action = Executor(feasible=False), proposed()
    (result,) = run(world, executor, approved(world, action))

    assert executor.planned == [action.id] and executor.executed == []
    assert result == {
        "id": action.id,
        "kind": "ecs.rollback",
        "status": "failed",
        "reason": "checkout:117 is deregistered",
    }
    stored = world.actions.record(action.id)
    assert stored is not None and stored.action.status is ActionStatus.FAILED
    assert stored.result == {"error": "dry run: checkout:117 is deregistered"}


def test_a_dry_run_that_cannot_read_the_target_never_executes(world: NodeWorld) -> None:
    executor, action = Executor(plan_error=ConnectionError("ecs: connection reset")), proposed()
    (result,) = run(world, executor, approved(world, action))
    assert executor.executed == [] and result["status"] == "failed"
    assert world.actions.get(action.id).status is ActionStatus.FAILED  # type: ignore[union-attr]


def test_an_approved_action_runs_once_keyed_by_its_id_and_a_replay_does_not_run_it_again(world: NodeWorld) -> None:
    executor, action = Executor(), proposed()
    state_copy = approved(world, action)

    (first,) = run(world, executor, state_copy)
    (replayed,) = run(world, executor, state_copy)  # LangGraph re-runs a node after a crash

    assert executor.executed == [(action.id, action.id)]
    done = {"id": action.id, "kind": "ecs.rollback", "status": "succeeded"}
    assert first == {**done, "result": {"deployment": "ecs-svc/123"}}
    assert replayed == done
    assert world.actions.get(action.id).status is ActionStatus.SUCCEEDED  # type: ignore[union-attr]
    incident = world.store.get_incident(INCIDENT)
    assert incident is not None and incident.status is IncidentStatus.MITIGATING
    notes = [row.payload["note"] for row in world.outbox.for_incident(INCIDENT)]
    assert notes == [f"Executing: ecs.rollback {action.id} (approved by dana)"]


def test_only_approved_or_auto_actions_that_change_something_run(world: NodeWorld) -> None:
    executor = Executor()
    waiting = proposed(task_definition="checkout:116")  # needs approval, not decided
    auto = proposed("ecs.scale", PolicyDecision.AUTO, desired="6")
    escalate = proposed("escalate", PolicyDecision.AUTO, team="storefront")
    world.actions.save_proposed([waiting, auto, escalate])
    rejected = proposed(task_definition="checkout:115")
    world.actions.save_proposed([rejected])
    world.actions.decide(rejected.id, rejected.digest, False, "dana", "cli")
    state = [a.model_dump(mode="json") for a in world.actions.for_incident(INCIDENT)]

    results = run(world, executor, *state)

    assert [r["id"] for r in results] == [auto.id] and executor.executed == [(auto.id, auto.id)]
    assert world.actions.get(waiting.id).status is ActionStatus.PROPOSED  # type: ignore[union-attr]


def test_a_failing_execution_is_recorded_not_retried(world: NodeWorld) -> None:
    executor, action = Executor(error=RuntimeError("ECS UpdateService: AccessDenied")), proposed()
    state_copy = approved(world, action)
    (result,) = run(world, executor, state_copy)
    (again,) = run(world, executor, state_copy)
    assert result["status"] == "failed" and "AccessDenied" in result["reason"]
    assert again == {"id": action.id, "kind": "ecs.rollback", "status": "failed"}
    assert len(executor.executed) == 1


def test_an_action_without_an_executor_fails_without_acting(world: NodeWorld) -> None:
    action = proposed("lambda.rollback", function="search-indexer", alias="live", version="30")
    (result,) = run(world, Executor(), approved(world, action))
    assert result == {"id": action.id, "kind": "lambda.rollback", "status": "failed", "reason": "no executor"}
    assert world.actions.get(action.id).status is ActionStatus.FAILED  # type: ignore[union-attr]
