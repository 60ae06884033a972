"""EcsActionExecutor (ports.ActionExecutor) against the sandbox's moto server seeded with ecs-bad-deploy:
dry runs that find the target or say why not, and executions that change the service once (a retry is a no-op).

moto's state is global to the process: the module resets it before seeding and changes the seeded services
(xdist: --dist loadfile keeps modules apart).
"""

from __future__ import annotations

import functools
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from oncall_agent.adapters.aws.clients import make_client
from oncall_agent.adapters.aws.ecs_actions import (
    RESTART_TAG,
    ActionFailed,
    EcsActionExecutor,
    restart_tag_value,
    task_definition_name,
)
from oncall_agent.domain.action import ProposedAction, action_digest
from oncall_agent.ports import ActionExecutor
from oncall_agent.sandbox.scenario import load_scenario
from oncall_agent.sandbox.world import SandboxWorld
from tests.conftest import SCENARIOS

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

REGION = "us-east-1"


@dataclass
class Sandbox:
    world: SandboxWorld
    factory: Callable[[str], Any]

    def ecs(self) -> Any:
        return self.factory(REGION)

    def service(self, name: str, cluster: str = "prod-web") -> dict[str, Any]:
        (found,) = self.ecs().describe_services(cluster=cluster, services=[name])["services"]
        return dict(found)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    world = SandboxWorld(load_scenario(SCENARIOS / "ecs-bad-deploy.yaml"))
    try:
        endpoints = world.start()
        request = urllib.request.Request(f"{endpoints.aws}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200
        world.seed()
        factory = functools.partial(
            make_client,
            "ecs",
            endpoint_url=endpoints.aws,
            access_key_id="testing",
            secret_access_key="testing",
            max_attempts=1,
        )
        yield Sandbox(world, factory)
    finally:
        world.stop()


@pytest.fixture()
def executor(sandbox: Sandbox) -> ActionExecutor:
    return EcsActionExecutor(sandbox.factory, REGION)


def action(kind: str, **parameters: Any) -> ProposedAction:
    return ProposedAction(
        id=f"act-{kind}",
        incident_id="inc-1",
        kind=kind,
        parameters=parameters,
        runbook_id="ecs-bad-deploy",
        digest=action_digest(kind, parameters),
    )


def rollback(service: str = "checkout", task_definition: str = "checkout:117", cluster: str = "prod-web") -> Any:
    return action("ecs.rollback", cluster=cluster, service=service, task_definition=task_definition)


def test_kinds(executor: ActionExecutor) -> None:
    assert executor.kinds() == frozenset({"ecs.rollback", "ecs.scale", "ecs.restart"})


def test_rollback_plans_executes_once_and_a_retry_is_a_no_op(sandbox: Sandbox, executor: ActionExecutor) -> None:
    plan = executor.plan(rollback())
    assert plan.feasible, plan.summary
    assert (plan.before, plan.after) == ({"task_definition": "checkout:118"}, {"task_definition": "checkout:117"})
    assert task_definition_name(sandbox.service("checkout")["taskDefinition"]) == "checkout:118"  # plan touched nothing

    done = executor.execute(rollback(), "key-1")
    assert done["changed"] is True
    assert (done["before"], done["after"]) == (plan.before, plan.after)
    assert task_definition_name(sandbox.service("checkout")["taskDefinition"]) == "checkout:117"

    again = executor.execute(rollback(), "key-1")
    assert again["changed"] is False and again["after"] == {"task_definition": "checkout:117"}
    replanned = executor.plan(rollback())
    assert replanned.feasible and replanned.before == replanned.after
    assert "nothing to change" in replanned.summary


def test_rollback_target_may_be_given_as_an_arn(executor: ActionExecutor) -> None:
    arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/inventory:55"
    plan = executor.plan(rollback("inventory", arn))
    assert plan.feasible and plan.after == {"task_definition": "inventory:55"}


@pytest.mark.parametrize(
    ("proposed", "reason"),
    [
        (rollback(service="no-such-service"), "service 'no-such-service' not found"),
        (rollback(cluster="no-such-cluster"), "cluster 'no-such-cluster' not found"),
        (rollback(task_definition="checkout:999"), "task definition 'checkout:999' not found"),
        (rollback(task_definition="checkout:1"), "INACTIVE"),  # a deregistered filler revision
        (rollback(task_definition="payments:1"), "not a revision of the service's family"),
        (action("ecs.rollback", cluster="prod-web", service="checkout"), "'task_definition'"),
        (action("ecs.scale", cluster="prod-web", service="checkout", desired_count=-1), "'desired_count'"),
        (action("ecs.scale", cluster="prod-web", service="checkout", desired_count="three"), "'desired_count'"),
        (action("lambda.rollback", function="x"), "unsupported action kind"),
    ],
)
def test_infeasible_plans_say_why(executor: ActionExecutor, proposed: ProposedAction, reason: str) -> None:
    plan = executor.plan(proposed)
    assert not plan.feasible
    assert reason in plan.summary
    with pytest.raises(ActionFailed, match=reason.replace("(", r"\(").replace(")", r"\)")):
        executor.execute(proposed, "key-infeasible")


def test_scale_changes_the_desired_count_once(sandbox: Sandbox, executor: ActionExecutor) -> None:
    scale = action("ecs.scale", cluster="prod-web", service="payments", desired_count=4)
    plan = executor.plan(scale)
    assert plan.feasible and (plan.before, plan.after) == ({"desired_count": 2}, {"desired_count": 4})
    # Runbook templates render strings: "4" is the same request as 4.
    rendered = executor.plan(action("ecs.scale", cluster="prod-web", service="payments", desired_count="4"))
    assert rendered.feasible and rendered.after == {"desired_count": 4}

    assert executor.execute(scale, "scale-1")["changed"] is True
    assert sandbox.service("payments")["desiredCount"] == 4
    assert executor.execute(scale, "scale-1")["changed"] is False


def test_restart_forces_one_new_deployment_per_key(sandbox: Sandbox, executor: ActionExecutor) -> None:
    restart = action("ecs.restart", cluster="prod-web", service="inventory")
    first_deployment = sandbox.service("inventory")["deployments"][0]["id"]
    plan = executor.plan(restart)
    assert plan.feasible and plan.before["deployment"] == first_deployment

    done = executor.execute(restart, "restart-1")
    assert done["changed"] is True and done["key_recorded"] is True
    second_deployment = sandbox.service("inventory")["deployments"][0]["id"]
    assert second_deployment != first_deployment and done["after"]["deployment"] == second_deployment

    assert executor.execute(restart, "restart-1")["changed"] is False
    assert sandbox.service("inventory")["deployments"][0]["id"] == second_deployment

    assert executor.execute(restart, "restart-2")["changed"] is True
    assert sandbox.service("inventory")["deployments"][0]["id"] != second_deployment
    arn = sandbox.service("inventory")["serviceArn"]
    tags = {t["key"]: t["value"] for t in sandbox.ecs().list_tags_for_resource(resourceArn=arn)["tags"]}
    assert tags[RESTART_TAG] == "restart-2"


def test_restart_key_is_kept_as_a_valid_tag_value() -> None:
    assert restart_tag_value("inc-1:act-2:attempt-1") == "inc-1:act-2:attempt-1"
    odd = restart_tag_value("key with * and # " + "x" * 300)
    assert odd.startswith("sha256:") and len(odd) <= 256


def test_aws_errors_raise_action_failed() -> None:
    unreachable = functools.partial(
        make_client,
        "ecs",
        endpoint_url="http://127.0.0.1:9",
        access_key_id="testing",
        secret_access_key="testing",
        max_attempts=1,
        connect_timeout=0.5,
    )
    executor = EcsActionExecutor(unreachable, REGION)
    with pytest.raises(ActionFailed, match="dry run failed"):
        executor.plan(rollback())
    with pytest.raises(ActionFailed):
        executor.execute(rollback(), "key-x")
