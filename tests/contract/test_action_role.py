"""Per-approval credentials (adapters.aws.action_role) against moto with IAM authorisation switched on.

The agent's own ("task") credentials are an IAM user allowed to read ECS and to assume the action role, nothing
else. An approved ECS rollback runs through STS AssumeRole with the action id in the session name and tags; the
read path cannot change a service; an action whose account has no role, or whose role may not be assumed, fails
before anything changes.

moto's authorisation switch (`/moto-api/reset-auth`) is global to the process: the module turns it on after
seeding and off again at the end (xdist: --dist loadfile keeps a module in one worker).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from oncall_agent.adapters.aws.action_role import ActionRoleClients, ActionRoleUnavailable
from oncall_agent.adapters.aws.clients import make_client
from oncall_agent.adapters.aws.ecs_actions import EcsActionExecutor, task_definition_name
from oncall_agent.domain.action import ProposedAction, action_digest

pytestmark = [pytest.mark.sandbox]

REGION, ACCOUNT, CLUSTER, SERVICE = "us-east-1", "123456789012", "roles-cluster", "payments"
ROOT = {"access_key_id": "testing", "secret_access_key": "testing"}
TASK_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["ecs:Describe*", "ecs:List*", "sts:GetCallerIdentity"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"], "Resource": "ROLE_ARN"},
    ],
}
ACTION_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["ecs:UpdateService", "ecs:DescribeServices", "ecs:DescribeTaskDefinition"],
            "Resource": "*",
        },
        {"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"},
    ],
}


@dataclass
class World:
    endpoint: str
    task_keys: dict[str, str]
    action_role: str
    other_role: str

    def client(self, service: str, **keys: str) -> Any:
        return make_client(service, REGION, self.endpoint, max_attempts=1, **(keys or self.task_keys))

    def acting(self, sts: Any = None, **overrides: Any) -> ActionRoleClients:
        options: dict[str, Any] = {
            "default_role": self.action_role,
            "roles_by_account": {},
            "account_of": lambda action: None,
        }
        options.update(overrides)

        def make(service: str, region: str, key: str, secret: str, token: str) -> Any:
            return make_client(
                service,
                region,
                self.endpoint,
                max_attempts=1,
                access_key_id=key,
                secret_access_key=secret,
                session_token=token,
            )

        return ActionRoleClients(lambda region: sts or self.client("sts"), make, **options)


def _seed(endpoint: str) -> tuple[dict[str, str], str, str]:
    iam = make_client("iam", REGION, endpoint, max_attempts=1, **ROOT)
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/oncall-task"},
                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                }
            ],
        }
    )
    role = iam.create_role(RoleName="oncall-action", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(RoleName="oncall-action", PolicyName="act", PolicyDocument=json.dumps(ACTION_POLICY))
    other = iam.create_role(RoleName="someone-elses-admin", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.create_user(UserName="oncall-task")
    policy = json.dumps(TASK_POLICY).replace("ROLE_ARN", role)
    iam.put_user_policy(UserName="oncall-task", PolicyName="read", PolicyDocument=policy)
    key = iam.create_access_key(UserName="oncall-task")["AccessKey"]
    ecs = make_client("ecs", REGION, endpoint, max_attempts=1, **ROOT)
    ecs.create_cluster(clusterName=CLUSTER)
    for image in ("good", "bad"):
        ecs.register_task_definition(
            family=SERVICE, containerDefinitions=[{"name": "app", "image": image, "memory": 512}]
        )
    ecs.create_service(cluster=CLUSTER, serviceName=SERVICE, taskDefinition=f"{SERVICE}:2", desiredCount=1)
    return {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}, role, other


@pytest.fixture(scope="module")
def world(moto_endpoint: str) -> Iterator[World]:
    task_keys, role, other = _seed(moto_endpoint)
    requests.post(f"{moto_endpoint}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()
    try:
        yield World(moto_endpoint, task_keys, role, other)
    finally:
        requests.post(f"{moto_endpoint}/moto-api/reset-auth", data=b"inf", timeout=10).raise_for_status()


def rollback(action_id: str, to: str = f"{SERVICE}:1") -> ProposedAction:
    parameters = {"cluster": CLUSTER, "service": SERVICE, "task_definition": to}
    return ProposedAction(
        id=action_id,
        incident_id="inc-roles",
        kind="ecs.rollback",
        parameters=parameters,
        runbook_id="ecs-bad-deploy",
        digest=action_digest("ecs.rollback", parameters),
        decided_by="alice",
    )


def current_task_definition(world: World) -> str:
    (service,) = world.client("ecs").describe_services(cluster=CLUSTER, services=[SERVICE])["services"]
    return task_definition_name(service["taskDefinition"])


def test_the_read_credentials_cannot_change_a_service(world: World) -> None:
    ecs = world.client("ecs")
    assert ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"]  # reads are allowed
    with pytest.raises(ClientError) as refused:
        ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=f"{SERVICE}:1")
    # moto answers its authorisation errors in XML even to JSON-protocol services: botocore keeps the body whole.
    assert "user/oncall-task is not authorized to perform: ecs:UpdateService" in str(refused.value)
    assert current_task_definition(world) == f"{SERVICE}:2"


def test_an_approved_rollback_runs_as_an_action_role_session_named_for_the_approval(world: World) -> None:
    sent: list[dict[str, Any]] = []
    sts = world.client("sts")
    sts.meta.events.register("provide-client-params.sts.AssumeRole", lambda params, **_: sent.append(dict(params)))
    executor = EcsActionExecutor(lambda region: world.client("ecs"), REGION, world.acting(sts))

    assert executor.plan(rollback("act-7f3a")).feasible  # the dry run reads with the task's credentials
    assert sent == []
    done = executor.execute(rollback("act-7f3a"), "act-7f3a")

    assert done["changed"] is True and current_task_definition(world) == f"{SERVICE}:1"
    (request,) = sent
    assert (request["RoleArn"], request["RoleSessionName"]) == (world.action_role, "oncall-act-7f3a")
    tags = {tag["Key"]: tag["Value"] for tag in request["Tags"]}
    assert tags == {
        "oncall-agent:action-id": "act-7f3a",
        "oncall-agent:incident-id": "inc-roles",
        "oncall-agent:approved-by": "alice",
        "oncall-agent:action-kind": "ecs.rollback",
    }
    who = world.acting().client("sts", REGION, rollback("act-7f3a")).get_caller_identity()["Arn"]
    assert who == f"arn:aws:sts::{ACCOUNT}:assumed-role/oncall-action/oncall-act-7f3a"


def test_an_account_without_an_action_role_fails_the_action_before_anything_changes(world: World) -> None:
    before = current_task_definition(world)
    acting = world.acting(
        default_role=None, roles_by_account={"111111111111": world.action_role}, account_of=lambda a: "222222222222"
    )
    executor = EcsActionExecutor(lambda region: world.client("ecs"), REGION, acting)
    with pytest.raises(ActionRoleUnavailable, match="no action role for account 222222222222"):
        executor.execute(rollback("act-other-account", to=f"{SERVICE}:2"), "act-other-account")
    assert current_task_definition(world) == before


def test_a_role_the_task_may_not_assume_fails_the_action_before_anything_changes(world: World) -> None:
    before = current_task_definition(world)
    executor = EcsActionExecutor(
        lambda region: world.client("ecs"), REGION, world.acting(default_role=world.other_role)
    )
    with pytest.raises(ActionRoleUnavailable, match=r"cannot assume the action role .*someone-elses-admin"):
        executor.execute(rollback("act-not-mine", to=f"{SERVICE}:2"), "act-not-mine")
    assert current_task_definition(world) == before
