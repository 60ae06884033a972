"""LambdaActionExecutor (ports.ActionExecutor) against moto: a function with versions 1..3 and aliases on 3.

Dry runs find the alias and the target version or say why not; an execution moves the alias once (a retry is a
no-op); a weighted alias is refused unless the parameters say the split is to go.

moto's state is global to the process: the module resets it before seeding, and each test that changes an alias
uses its own (xdist: --dist loadfile keeps modules apart).
"""

from __future__ import annotations

import functools
import io
import json
import urllib.request
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from oncall_agent.adapters.aws.clients import make_client
from oncall_agent.adapters.aws.lambda_actions import LambdaActionExecutor, LambdaActionFailed
from oncall_agent.domain.action import ProposedAction, action_digest
from oncall_agent.ports import ActionExecutor

pytestmark = [pytest.mark.sandbox]

REGION = "us-east-1"
FUNCTION = "pricing-fn"
ARN = f"arn:aws:lambda:{REGION}:123456789012:function:{FUNCTION}"


def _code(release: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", f"RELEASE = {release}\n\ndef handler(event, context):\n    return RELEASE\n")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def factory(moto_endpoint: str) -> Callable[[str], Any]:
    """Lambda clients for moto, after a reset and the seeding: versions 1..3, aliases on 3 (one weighted)."""
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
    build = functools.partial(
        make_client,
        endpoint_url=moto_endpoint,
        access_key_id="testing",
        secret_access_key="testing",
        max_attempts=1,
    )
    trust = {"Version": "2012-10-17", "Statement": []}
    role = build("iam", REGION).create_role(RoleName="lambda-role", AssumeRolePolicyDocument=json.dumps(trust))
    lam = build("lambda", REGION)
    lam.create_function(
        FunctionName=FUNCTION,
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="index.handler",
        Code={"ZipFile": _code(1)},
    )
    for release in (1, 2, 3):
        if release > 1:
            lam.update_function_code(FunctionName=FUNCTION, ZipFile=_code(release))
        assert lam.publish_version(FunctionName=FUNCTION)["Version"] == str(release)
    for alias in ("live", "steady", "retry"):
        lam.create_alias(FunctionName=FUNCTION, Name=alias, FunctionVersion="3")
    weights = {"AdditionalVersionWeights": {"2": 0.1}}
    lam.create_alias(FunctionName=FUNCTION, Name="canary", FunctionVersion="3", RoutingConfig=weights)
    return functools.partial(build, "lambda")


@pytest.fixture()
def executor(factory: Callable[[str], Any], aws_env: None) -> ActionExecutor:
    return LambdaActionExecutor(factory, REGION)


def alias_now(factory: Callable[[str], Any], alias: str) -> dict[str, Any]:
    found: dict[str, Any] = factory(REGION).get_alias(FunctionName=FUNCTION, Name=alias)
    return found


def rollback(alias: str = "live", version: Any = "2", function: str = FUNCTION, **extra: Any) -> ProposedAction:
    parameters = {"function": function, "alias": alias, "version": version, **extra}
    return ProposedAction(
        id="act-lambda",
        incident_id="inc-1",
        kind="lambda.rollback",
        parameters=parameters,
        runbook_id="lambda-bad-deploy",
        digest=action_digest("lambda.rollback", parameters),
    )


def test_kinds(executor: ActionExecutor) -> None:
    assert executor.kinds() == frozenset({"lambda.rollback"})


def test_rollback_plans_executes_once_and_a_retry_is_a_no_op(
    factory: Callable[[str], Any], executor: ActionExecutor
) -> None:
    plan = executor.plan(rollback())
    assert plan.feasible, plan.summary
    assert (plan.before, plan.after) == ({"version": "3"}, {"version": "2"})
    assert alias_now(factory, "live")["FunctionVersion"] == "3"  # the dry run touched nothing

    done = executor.execute(rollback(), "key-1")
    assert done["changed"] is True
    assert (done["before"], done["after"]) == (plan.before, plan.after)
    assert alias_now(factory, "live")["FunctionVersion"] == "2"

    again = executor.execute(rollback(), "key-1")
    assert again["changed"] is False and again["after"] == {"version": "2"}
    assert alias_now(factory, "live")["FunctionVersion"] == "2"
    replanned = executor.plan(rollback())
    assert replanned.feasible and replanned.before == replanned.after
    assert "nothing to change" in replanned.summary


def test_a_retry_with_another_key_finds_the_alias_already_moved(
    factory: Callable[[str], Any], executor: ActionExecutor
) -> None:
    assert executor.execute(rollback("retry", "1"), "key-a")["changed"] is True
    assert executor.execute(rollback("retry", "1"), "key-b")["changed"] is False
    assert alias_now(factory, "retry")["FunctionVersion"] == "1"


@pytest.mark.parametrize("version", [2, "2", f"{FUNCTION}:2", f"{ARN}:2", " 2 "])
def test_the_target_may_be_given_as_number_qualified_name_or_arn(executor: ActionExecutor, version: Any) -> None:
    plan = executor.plan(rollback("steady", version))
    assert plan.feasible, plan.summary
    assert plan.after == {"version": "2"}


def test_the_function_may_be_given_as_an_arn(executor: ActionExecutor) -> None:
    plan = executor.plan(rollback("steady", "1", function=ARN))
    assert plan.feasible and (plan.before, plan.after) == ({"version": "3"}, {"version": "1"})


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        (rollback("nope"), "alias 'nope' of function 'pricing-fn' not found"),
        (rollback("steady", function="no-such-fn"), "alias 'steady' of function 'no-such-fn' not found"),
        (rollback("steady", "9"), "version 9 of function 'pricing-fn' not found"),
        (rollback("steady", "$LATEST"), "not a published version number"),
        (rollback("steady", "0"), "not a published version number"),
        (rollback("steady", True), "must be a published version number"),
        (rollback("steady", None), "must be a published version number"),
        (rollback("steady", "other-fn:2"), "names function 'other-fn'"),
        (rollback("", "2"), "parameter 'alias' must be a non-empty string"),
        (rollback("steady", "2", function=""), "parameter 'function' must be a non-empty string"),
        (rollback("steady", "2", clear_routing="yes"), "'clear_routing' must be true or false"),
    ],
)
def test_missing_targets_and_bad_parameters_make_the_plan_infeasible(
    executor: ActionExecutor, action: ProposedAction, reason: str
) -> None:
    plan = executor.plan(action)
    assert not plan.feasible
    assert reason in plan.summary
    assert (plan.before, plan.after) == ({}, {})


def test_an_unsupported_kind_is_infeasible(executor: ActionExecutor) -> None:
    action = rollback("steady").model_copy(update={"kind": "ecs.rollback"})
    plan = executor.plan(action)
    assert not plan.feasible and "unsupported action kind 'ecs.rollback'" in plan.summary


def test_execute_of_an_infeasible_rollback_raises_and_changes_nothing(
    factory: Callable[[str], Any], executor: ActionExecutor
) -> None:
    with pytest.raises(LambdaActionFailed, match="version 9 of function 'pricing-fn' not found"):
        executor.execute(rollback("steady", "9"), "key-x")
    assert alias_now(factory, "steady")["FunctionVersion"] == "3"


def test_a_weighted_alias_is_refused_unless_clearing_the_split_is_asked_for(
    factory: Callable[[str], Any], executor: ActionExecutor
) -> None:
    refused = executor.plan(rollback("canary"))
    assert not refused.feasible
    assert "splits traffic" in refused.summary and "clear_routing" in refused.summary
    with pytest.raises(LambdaActionFailed, match="splits traffic"):
        executor.execute(rollback("canary"), "key-c")
    assert alias_now(factory, "canary")["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.1}}

    plan = executor.plan(rollback("canary", clear_routing=True))
    assert plan.feasible, plan.summary
    assert (plan.before, plan.after) == ({"version": "3", "routing": {"2": 0.1}}, {"version": "2"})
    done = executor.execute(rollback("canary", clear_routing=True), "key-c")
    assert done["changed"] is True
    moved = alias_now(factory, "canary")
    assert moved["FunctionVersion"] == "2"
    assert not (moved.get("RoutingConfig") or {}).get("AdditionalVersionWeights")
    assert executor.execute(rollback("canary", clear_routing=True), "key-c")["changed"] is False


def test_aws_errors_other_than_not_found_raise(aws_env: None) -> None:
    unreachable = functools.partial(
        make_client,
        "lambda",
        endpoint_url="http://127.0.0.1:9",
        access_key_id="testing",
        secret_access_key="testing",
        max_attempts=1,
        connect_timeout=1.0,
    )
    executor = LambdaActionExecutor(unreachable, REGION)
    with pytest.raises(LambdaActionFailed, match="dry run failed"):
        executor.plan(rollback("steady"))
    with pytest.raises(LambdaActionFailed):
        executor.execute(rollback("steady"), "key-e")


class _MovedMeanwhile:
    """A Lambda client whose alias moves between the read and the update (moto ignores RevisionId)."""

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []

    def get_alias(self, **_: Any) -> dict[str, Any]:
        return {"Name": "live", "FunctionVersion": "3", "RevisionId": "rev-1"}

    def get_function_configuration(self, **_: Any) -> dict[str, Any]:
        return {"Version": "2", "State": "Active"}

    def update_alias(self, **kwargs: Any) -> dict[str, Any]:
        self.updates.append(kwargs)
        error = {"Error": {"Code": "PreconditionFailedException", "Message": "The RevisionId does not match"}}
        raise ClientError(error, "UpdateAlias")  # type: ignore[arg-type]


def test_the_update_is_guarded_by_the_revision_read_and_a_concurrent_move_fails_the_action() -> None:
    client = _MovedMeanwhile()
    executor = LambdaActionExecutor(lambda _region: client, REGION)
    with pytest.raises(LambdaActionFailed, match="alias changed since it was read"):
        executor.execute(rollback(), "key-p")
    (update,) = client.updates
    assert update == {
        "FunctionName": FUNCTION,
        "Name": "live",
        "FunctionVersion": "2",
        "RoutingConfig": {"AdditionalVersionWeights": {}},
        "RevisionId": "rev-1",
    }
