"""The verify node on a real store (SQLite) reading alarm states from moto through the CloudWatch adapter: the
incident is resolved only when every one of its alarms is found and OK. An alarm that cannot be found (deleted,
or looked up in the wrong region) never counts as recovered."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oncall_agent.adapters.aws.clients import make_client
from oncall_agent.adapters.aws.cloudwatch import CloudWatchAlarmSource
from oncall_agent.domain.incident import IncidentStatus
from oncall_agent.investigation.deps import Limits
from oncall_agent.investigation.nodes import verify
from tests.unit.node_deps import INCIDENT, NodeWorld, node_world

REGION = "us-east-1"
LIMITS = Limits(verify_timeout_seconds=0.6, verify_poll_seconds=0.1)
SUCCEEDED = [{"id": "act-1", "kind": "ecs.rollback", "status": "succeeded"}]


class CountingAlarms(CloudWatchAlarmSource):
    """The real adapter, counting the lookups verify makes."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(
            functools.partial(
                make_client,
                "cloudwatch",
                endpoint_url=endpoint,
                access_key_id="t",
                secret_access_key="t",
                max_attempts=1,
            )
        )
        self.lookups = 0

    def snapshots(self, region: str, names: list[str] | None = None) -> Any:
        self.lookups += 1
        return super().snapshots(region, names)


@pytest.fixture()
def world(tmp_path: Path) -> Iterator[NodeWorld]:
    yield from node_world(tmp_path)


@pytest.fixture()
def alarms(moto_endpoint: str) -> CountingAlarms:
    return CountingAlarms(moto_endpoint)


def cloudwatch(region: str, endpoint: str) -> Any:
    return make_client("cloudwatch", region, endpoint_url=endpoint, access_key_id="t", secret_access_key="t")


def put_alarm(endpoint: str, state: str, region: str = REGION) -> str:
    name = f"checkout-5xx-{uuid.uuid4().hex[:8]}"  # moto's state is shared by the whole test session
    client = cloudwatch(region, endpoint)
    client.put_metric_alarm(
        AlarmName=name,
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    client.set_alarm_state(AlarmName=name, StateValue=state, StateReason="set by the test")
    return name


def run_verify(world: NodeWorld, alarms: CountingAlarms | None, names: list[str], executed: list[Any]) -> Any:
    node = verify.make(world.deps(sleep=time.sleep, limits=LIMITS, alarms=alarms))
    state = {"incident_id": INCIDENT, "scope": {"region": REGION, "alarm_names": names}, "executed": executed}
    return node(state)["outcome"]  # type: ignore[arg-type]


def status(world: NodeWorld) -> IncidentStatus:
    incident = world.store.get_incident(INCIDENT)
    assert incident is not None
    return incident.status


def test_alarms_back_to_ok_resolve(world: NodeWorld, alarms: CountingAlarms, moto_endpoint: str) -> None:
    names = [put_alarm(moto_endpoint, "OK"), put_alarm(moto_endpoint, "OK")]
    assert run_verify(world, alarms, names, SUCCEEDED) == {"resolved": True, "reason": "alarms back to OK"}
    assert status(world) is IncidentStatus.MONITORING and alarms.lookups == 1


@pytest.mark.parametrize("other", ["ALARM", "INSUFFICIENT_DATA"])
def test_one_alarm_not_ok_is_not_resolved_after_the_timeout(
    world: NodeWorld, alarms: CountingAlarms, moto_endpoint: str, other: str
) -> None:
    names = [put_alarm(moto_endpoint, "OK"), put_alarm(moto_endpoint, other)]
    started = time.monotonic()
    outcome = run_verify(world, alarms, names, SUCCEEDED)
    why = f"alarms still firing ({names[1]} {other})"
    assert outcome == {"resolved": False, "reason": f"{why} {LIMITS.verify_timeout_seconds:g} s after the action"}
    assert time.monotonic() - started >= LIMITS.verify_timeout_seconds and alarms.lookups >= 3


def test_a_deleted_alarm_never_counts_as_recovered(
    world: NodeWorld, alarms: CountingAlarms, moto_endpoint: str
) -> None:
    name = put_alarm(moto_endpoint, "OK")
    make_client(
        "cloudwatch", REGION, endpoint_url=moto_endpoint, access_key_id="t", secret_access_key="t"
    ).delete_alarms(AlarmNames=[name])
    outcome = run_verify(world, alarms, [name], SUCCEEDED)
    assert outcome["resolved"] is False and alarms.lookups >= 3
    why = f"alarms not found in {REGION} ({name}: deleted, or another region)"
    assert outcome["reason"] == f"{why} {LIMITS.verify_timeout_seconds:g} s after the action"


def test_an_alarm_looked_up_in_the_wrong_region_never_counts_as_recovered(
    world: NodeWorld, alarms: CountingAlarms, moto_endpoint: str
) -> None:
    name = put_alarm(moto_endpoint, "OK", region="eu-west-1")  # OK, but not where the scope says
    outcome = run_verify(world, alarms, [name], SUCCEEDED)
    assert outcome["resolved"] is False and alarms.lookups >= 3


@pytest.mark.parametrize(
    ("executed", "reason"),
    [
        ([], "no action was approved"),
        ([{"id": "act-1", "kind": "ecs.rollback", "status": "failed"}], "the action failed"),
    ],
)
def test_nothing_succeeded_is_not_verified(
    world: NodeWorld, alarms: CountingAlarms, moto_endpoint: str, executed: list[Any], reason: str
) -> None:
    names = [put_alarm(moto_endpoint, "OK")]  # recovered on its own: still not the agent's doing
    assert run_verify(world, alarms, names, executed) == {"resolved": False, "reason": reason}
    assert alarms.lookups == 0 and status(world) is IncidentStatus.INVESTIGATING


def test_without_an_alarm_reader_nothing_is_resolved(world: NodeWorld) -> None:
    outcome = run_verify(world, None, ["checkout-5xx"], SUCCEEDED)
    assert outcome == {"resolved": False, "reason": "cannot read alarm states to verify recovery"}
