"""CodeDeployActionExecutor (ports.ActionExecutor) against moto seeded the way the sandbox seeds a scenario, and
the sandbox's reaction to a CodeDeploy rollback (reactor_codedeploy).

Every group of application `legacy-api` has a good deployment two days ago and a bad one twenty minutes ago
(backdated to Succeeded by moto_backdate, in process). Dry runs find the target or say why not; a rollback creates
exactly one deployment per key, and none when the group already runs the good revision.

moto's state is global to the process: the module resets it before seeding, and each test that deploys uses its
own group (xdist: --dist loadfile keeps modules apart).
"""

from __future__ import annotations

import functools
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from moto.codedeploy.models import codedeploy_backends

from oncall_agent.adapters.aws.clients import make_client
from oncall_agent.adapters.aws.codedeploy_actions import (
    CodeDeployActionExecutor,
    CodeDeployActionFailed,
    revision_label,
    rollback_description,
)
from oncall_agent.domain.action import ProposedAction, action_digest
from oncall_agent.ports import ActionExecutor
from oncall_agent.sandbox.reactor_codedeploy import codedeploy_culprit_is_running, culprit_codedeploy
from oncall_agent.sandbox.scenario import Scenario, parse_scenario
from oncall_agent.sandbox.seed_aws import AwsClients, SeedSummary
from oncall_agent.sandbox.seed_aws_deploys import seed_codedeploy

pytestmark = [pytest.mark.sandbox]

REGION = "us-east-1"
APP = "legacy-api"
GROUPS = ["plan", "once", "keyed", "digest", "pending", "failing", "reactor"]
REPO = "acme/legacy-api"
GOOD, BAD = "a1a1a1a", "b2b2b2b"


def good(group: str) -> str:
    return f"d-GOOD-{group}"


def bad(group: str) -> str:
    return f"d-BAD-{group}"


def scenario_data(culprit: str = bad("reactor"), category: str = "deploy") -> dict[str, Any]:
    metric = {"namespace": "AWS/ApplicationELB", "name": "HTTPCode_Target_5XX_Count", "stat": "Sum", "period": 60}
    deploys = []
    for group in GROUPS:
        deploys.append(
            {"kind": "codedeploy", "application": APP, "group": group, "at": "-2d"}
            | {
                "deployment_id": good(group),
                "revision": GOOD,
            }
        )
        deploys.append(
            {"kind": "codedeploy", "application": APP, "group": group, "at": "-20m"}
            | {
                "deployment_id": bad(group),
                "revision": BAD,
            }
        )
    truth: dict[str, Any] = {"category": category, "actions": ["codedeploy.rollback"]}
    if category != "unknown":
        truth["culprit"] = culprit
    return {
        "id": "codedeploy-bad-deploy",
        "title": "legacy-api 5xx after a CodeDeploy rollout",
        "services": [
            {"name": f"{APP}-{group}", "codedeploy": {"application": APP, "group": group}, "repo": REPO}
            for group in GROUPS
        ],
        "alarms": [
            {
                "name": "legacy-api-5xx",
                "service": f"{APP}-reactor",
                "metric": metric,
                "threshold": 50,
                "comparison": "GreaterThanThreshold",
                "evaluation_periods": 3,
            }
        ],
        "deploys": deploys,
        "truth": truth,
    }


@dataclass
class Sandbox:
    scenario: Scenario
    client: Callable[[str], Any]  # service -> client

    def codedeploy(self) -> Any:
        return self.client("codedeploy")

    def deployments(self, group: str) -> list[str]:
        found = self.codedeploy().list_deployments(applicationName=APP, deploymentGroupName=group)["deployments"]
        return [str(d) for d in found]

    def info(self, deployment_id: str) -> dict[str, Any]:
        return dict(self.codedeploy().get_deployment(deploymentId=deployment_id)["deploymentInfo"])

    def deploy(self, group: str, commit: str) -> str:
        revision = {"revisionType": "GitHub", "gitHubLocation": {"repository": REPO, "commitId": commit}}
        created = self.codedeploy().create_deployment(applicationName=APP, deploymentGroupName=group, revision=revision)
        return str(created["deploymentId"])


@pytest.fixture(scope="module")
def sandbox(moto_endpoint: str) -> Sandbox:
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
    scenario = parse_scenario(scenario_data())
    summary = SeedSummary()
    seed_codedeploy(scenario, datetime.now(UTC), AwsClients.connect(moto_endpoint, REGION), summary)
    # The in-process moto server lets the seeding give deployments the scenario's ids and make them succeed.
    assert summary.codedeploy_ids == {d.deployment_id: d.deployment_id for d in scenario.deploys}
    client = functools.partial(
        make_client,
        region=REGION,
        endpoint_url=moto_endpoint,
        access_key_id="testing",
        secret_access_key="testing",
        max_attempts=1,
    )
    return Sandbox(scenario, client)


@pytest.fixture()
def executor(sandbox: Sandbox, aws_env: None) -> ActionExecutor:
    return CodeDeployActionExecutor(lambda region: sandbox.client("codedeploy"), REGION)


def rollback(group: str, deployment_id: str | None = None, application: str = APP) -> ProposedAction:
    parameters = {"application": application, "group": group, "deployment_id": deployment_id or good(group)}
    return ProposedAction(
        id="act-codedeploy",
        incident_id="inc-1",
        kind="codedeploy.rollback",
        parameters=parameters,
        runbook_id="codedeploy-bad-deploy",
        digest=action_digest("codedeploy.rollback", parameters),
    )


GOOD_LABEL = f"github:{REPO}@{GOOD}"
BAD_LABEL = f"github:{REPO}@{BAD}"


def test_kinds(executor: ActionExecutor) -> None:
    assert executor.kinds() == frozenset({"codedeploy.rollback"})


def test_plan_names_the_revisions_and_touches_nothing(sandbox: Sandbox, executor: ActionExecutor) -> None:
    plan = executor.plan(rollback("plan"))
    assert plan.feasible, plan.summary
    assert (plan.before, plan.after) == ({"revision": BAD_LABEL}, {"revision": GOOD_LABEL})
    assert good("plan") in plan.summary and bad("plan") in plan.summary
    assert sorted(sandbox.deployments("plan")) == sorted([good("plan"), bad("plan")])


def test_rollback_creates_exactly_one_deployment_even_when_executed_twice(
    sandbox: Sandbox, executor: ActionExecutor
) -> None:
    done = executor.execute(rollback("once"), "key-1")
    assert done["changed"] is True
    assert (done["before"], done["after"]) == ({"revision": BAD_LABEL}, {"revision": GOOD_LABEL})
    created = sandbox.info(done["deployment"])
    assert (created["applicationName"], created["deploymentGroupName"]) == (APP, "once")
    assert created["revision"] == sandbox.info(good("once"))["revision"]
    assert created["description"] == "oncall-agent rollback key-1"
    assert len(sandbox.deployments("once")) == 3

    again = executor.execute(rollback("once"), "key-1")
    assert again["changed"] is False and again["deployment"] == done["deployment"]
    assert "already created for this key" in again["summary"]
    assert len(sandbox.deployments("once")) == 3

    # Another key finds the group already rolling out the good revision: nothing to create either.
    other = executor.execute(rollback("once"), "key-2")
    assert other["changed"] is False and other["deployment"] == done["deployment"]
    assert len(sandbox.deployments("once")) == 3
    replanned = executor.plan(rollback("once"))
    assert replanned.feasible and replanned.before == replanned.after == {"revision": GOOD_LABEL}
    assert "nothing to change" in replanned.summary


def test_the_key_is_found_even_after_the_group_moved_on(sandbox: Sandbox, executor: ActionExecutor) -> None:
    done = executor.execute(rollback("keyed"), "key-k")
    assert done["changed"] is True
    sandbox.deploy("keyed", BAD)  # someone rolls the bad revision out again after the agent's rollback
    assert len(sandbox.deployments("keyed")) == 4
    assert executor.plan(rollback("keyed")).before == {"revision": BAD_LABEL}

    retried = executor.execute(rollback("keyed"), "key-k")
    assert retried["changed"] is False and retried["deployment"] == done["deployment"]
    assert len(sandbox.deployments("keyed")) == 4

    fresh = executor.execute(rollback("keyed"), "key-k2")  # a new decision is a new rollback
    assert fresh["changed"] is True and fresh["deployment"] != done["deployment"]
    assert len(sandbox.deployments("keyed")) == 5


def test_a_long_or_unusual_key_is_recorded_as_its_digest(sandbox: Sandbox, executor: ActionExecutor) -> None:
    key = "incident inc-1 / action act-codedeploy / " + "x" * 200
    assert rollback_description(key).startswith("oncall-agent rollback sha256:")
    assert rollback_description("key-1") == "oncall-agent rollback key-1"
    done = executor.execute(rollback("digest"), key)
    assert sandbox.info(done["deployment"])["description"] == rollback_description(key)
    assert executor.execute(rollback("digest"), key)["deployment"] == done["deployment"]
    assert len(sandbox.deployments("digest")) == 3


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        (rollback("plan", application="no-such-app"), "deployment group no-such-app/plan not found"),
        (rollback("no-such-group"), "deployment group legacy-api/no-such-group not found"),
        (rollback("plan", "d-NOPE"), "deployment 'd-NOPE' not found"),
        (rollback("plan", good("once")), f"deployment {good('once')} belongs to legacy-api/once, not legacy-api/plan"),
        (rollback("plan", " "), "parameter 'deployment_id' must be a non-empty string"),
        (rollback("", good("plan")), "parameter 'group' must be a non-empty string"),
    ],
)
def test_missing_targets_and_bad_parameters_make_the_plan_infeasible(
    executor: ActionExecutor, action: ProposedAction, reason: str
) -> None:
    plan = executor.plan(action)
    assert not plan.feasible
    assert reason in plan.summary
    assert (plan.before, plan.after) == ({}, {})


def test_a_deployment_that_did_not_succeed_is_not_a_rollback_target(sandbox: Sandbox, executor: ActionExecutor) -> None:
    pending = sandbox.deploy("pending", GOOD)  # moto leaves it Created
    plan = executor.plan(rollback("pending", pending))
    assert not plan.feasible and "is Created, not Succeeded" in plan.summary
    with pytest.raises(CodeDeployActionFailed, match="not Succeeded"):
        executor.execute(rollback("pending", pending), "key-p")
    assert len(sandbox.deployments("pending")) == 3


def test_an_unsupported_kind_is_infeasible(executor: ActionExecutor) -> None:
    plan = executor.plan(rollback("plan").model_copy(update={"kind": "lambda.rollback"}))
    assert not plan.feasible and "unsupported action kind 'lambda.rollback'" in plan.summary


def test_aws_errors_other_than_not_found_raise(aws_env: None) -> None:
    unreachable = functools.partial(
        make_client,
        "codedeploy",
        endpoint_url="http://127.0.0.1:9",
        access_key_id="testing",
        secret_access_key="testing",
        max_attempts=1,
        connect_timeout=1.0,
    )
    executor = CodeDeployActionExecutor(unreachable, REGION)
    with pytest.raises(CodeDeployActionFailed, match="dry run failed"):
        executor.plan(rollback("plan"))
    with pytest.raises(CodeDeployActionFailed):
        executor.execute(rollback("plan"), "key-e")


@pytest.mark.parametrize(
    ("revision", "label"),
    [
        (None, None),
        ({"revisionType": "GitHub", "gitHubLocation": {"repository": "a/b", "commitId": "c1"}}, "github:a/b@c1"),
        ({"revisionType": "S3", "s3Location": {"bucket": "b", "key": "k.zip", "bundleType": "zip"}}, "s3://b/k.zip"),
        (
            {"revisionType": "S3", "s3Location": {"bucket": "b", "key": "k", "version": "v1", "eTag": "e"}},
            "s3://b/k?versionId=v1#e",
        ),
    ],
)
def test_revision_labels(revision: dict[str, Any] | None, label: str | None) -> None:
    assert revision_label(revision) == label


def test_appspec_revisions_are_labelled_by_their_content() -> None:
    first = {"revisionType": "AppSpecContent", "appSpecContent": {"content": "version: 0.0"}}
    second = {"revisionType": "AppSpecContent", "appSpecContent": {"content": "version: 0.1"}}
    assert str(revision_label(first)).startswith("appspec:sha256:")
    assert revision_label(first) != revision_label(second)


# --- the sandbox's reaction ---------------------------------------------------------------------------------


def test_the_culprit_is_the_deploy_the_truth_names_by_id_or_revision() -> None:
    deploy = culprit_codedeploy(parse_scenario(scenario_data()))
    assert deploy is not None and (deploy.group, deploy.deployment_id) == ("reactor", bad("reactor"))
    by_revision = culprit_codedeploy(parse_scenario(scenario_data(culprit=BAD)))
    assert by_revision is not None and by_revision.revision == BAD
    assert culprit_codedeploy(parse_scenario(scenario_data(category="unknown"))) is None
    assert culprit_codedeploy(parse_scenario(scenario_data(culprit="checkout:42"))) is None


def test_the_culprit_stops_running_once_the_rollback_deploys_another_revision(
    sandbox: Sandbox, executor: ActionExecutor
) -> None:
    deploy = culprit_codedeploy(sandbox.scenario)
    assert deploy is not None
    assert codedeploy_culprit_is_running(sandbox.scenario, deploy, sandbox.client)

    sandbox.deploy("reactor", BAD)  # the same revision again: still the culprit running
    assert codedeploy_culprit_is_running(sandbox.scenario, deploy, sandbox.client)

    assert executor.execute(rollback("reactor"), "key-r")["changed"] is True
    assert not codedeploy_culprit_is_running(sandbox.scenario, deploy, sandbox.client)


def test_a_retry_whose_rollback_deployment_failed_reports_it_instead_of_redeploying(
    sandbox: Sandbox, executor: ActionExecutor
) -> None:
    done = executor.execute(rollback("failing"), "key-f")
    backend = codedeploy_backends["123456789012"][REGION]  # the moto server runs in this process
    backend.deployments[done["deployment"]].status = "Failed"  # moto never ends a deployment by itself
    with pytest.raises(CodeDeployActionFailed, match=f"{done['deployment']} created for this key ended Failed"):
        executor.execute(rollback("failing"), "key-f")
    assert len(sandbox.deployments("failing")) == 3
