"""Seeding moto from scenario files, read back through boto3 the way the agent's adapters will read it.

`seed_aws` alone seeds format-1 scenarios; a format-2 scenario (resources, AWS events, recorded points, any
account) is seeded by the SandboxWorld, which renames moto's resources and seeds its account: see
tests/contract/test_sandbox_format2*.py, and the e2e demo over every shipped scenario.

moto's state is global to the process (every ThreadedMotoServer shares it), so each test resets it first;
modules that seed moto once per module must not be interleaved with these tests (xdist: --dist loadfile).
"""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from oncall_agent.sandbox.generate import alarm_points, breach_reason, log_lines, metric_points, series_index
from oncall_agent.sandbox.scenario import (
    CodeDeployDeploy,
    EcsDeploy,
    LambdaDeploy,
    Scenario,
    is_extended_statistic,
    load_scenario,
    resolve_time,
    split_task_definition,
)
from oncall_agent.sandbox.scenario_targets import latest_ecs_deploys
from oncall_agent.sandbox.seed_aws import AwsClients, SeedSummary, fire_alarm, seed_aws
from tests.unit.correlate_inputs import expressible

REPO = Path(__file__).resolve().parents[2]
SCENARIO_FILES = [
    *(p for p in sorted((REPO / "tests" / "scenarios").glob("*.yaml")) if expressible(load_scenario(p))),
    REPO / "tests/fixtures/scenario_spec_example.yaml",
]
TOPIC = "arn:aws:sns:us-east-1:123456789012:oncall-alarms"

pytestmark = pytest.mark.usefixtures("aws_env")


def reset(endpoint: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


@pytest.fixture()
def clients(moto_endpoint: str) -> AwsClients:
    reset(moto_endpoint)
    return AwsClients.connect(moto_endpoint)


def near(moment: datetime, expected: datetime, seconds: float = 2.0) -> bool:
    return abs((moment.astimezone(UTC) - expected).total_seconds()) <= seconds


def check_alarms(scenario: Scenario, clients: AwsClients, now: datetime) -> None:
    cw = clients.cloudwatch
    for alarm in scenario.alarms:
        (found,) = cw.describe_alarms(AlarmNames=[alarm.name])["MetricAlarms"]
        assert found["StateValue"] == "OK"
        assert near(found["StateUpdatedTimestamp"], now - timedelta(hours=3))  # quiet for the whole window
        assert (found["Threshold"], found["ComparisonOperator"]) == (alarm.threshold, alarm.comparison)
        assert found["EvaluationPeriods"] == alarm.evaluation_periods and found["Period"] == alarm.metric.period
        key = "ExtendedStatistic" if is_extended_statistic(alarm.metric.stat) else "Statistic"
        assert found[key] == alarm.metric.stat
        assert found["AlarmActions"] == [TOPIC]
        tags = {t["Key"]: t["Value"] for t in cw.list_tags_for_resource(ResourceARN=found["AlarmArn"])["Tags"]}
        service = scenario.service(alarm.service)
        assert service is not None and tags == {**service.tags, "service": alarm.service}
    for other in scenario.other_alarms:
        (found,) = cw.describe_alarms(AlarmNames=[other.name])["MetricAlarms"]
        assert found["StateValue"] == other.state
        assert near(found["StateUpdatedTimestamp"], resolve_time(other.since, now))
        index = series_index(scenario, other.metric)
        if index is not None:  # the stand-in threshold agrees with the seeded data
            points = metric_points(scenario.metrics[index], now, f"{scenario.id}:metrics:{index}")
            since = resolve_time(other.since, now)
            values = [value for at, value in points if at >= since or other.state == "OK"]
            below = found["ComparisonOperator"] == "LessThanThreshold"
            breaching = [value < found["Threshold"] if below else value > found["Threshold"] for value in values]
            assert all(breaching) if other.state == "ALARM" else not any(breaching), other.name


def check_metrics(scenario: Scenario, clients: AwsClients, now: datetime) -> None:
    checked = 0
    for index, series in enumerate(scenario.metrics):
        metric = series.metric
        if is_extended_statistic(metric.stat):
            continue  # GetMetricData p99 needs the moto extension a later change adds
        expected = metric_points(series, now, f"{scenario.id}:metrics:{index}")
        query = {
            "Id": "q",
            "MetricStat": {
                "Metric": {
                    "Namespace": metric.namespace,
                    "MetricName": metric.name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in metric.dimensions.items()],
                },
                "Period": metric.period,
                "Stat": metric.stat,
            },
        }
        answer = clients.cloudwatch.get_metric_data(
            MetricDataQueries=[query],
            StartTime=expected[0][0],
            EndTime=expected[-1][0] + timedelta(seconds=metric.period),
        )["MetricDataResults"][0]
        assert sorted(answer["Values"]) == pytest.approx(sorted(value for _, value in expected))
        checked += 1
    assert checked or not scenario.metrics


def check_logs(scenario: Scenario, clients: AwsClients, now: datetime) -> None:
    groups = {g["logGroupName"] for g in clients.logs.describe_log_groups()["logGroups"]}
    assert groups >= {g for s in scenario.services for g in s.log_groups}
    paginator = clients.logs.get_paginator("filter_log_events")
    for index, spec in enumerate(scenario.logs):
        expected = log_lines(spec, now, f"{scenario.id}:logs:{index}")
        streams = {"logStreamNames": [spec.stream]} if spec.stream else {}
        got = [e for page in paginator.paginate(logGroupName=spec.group, **streams) for e in page["events"]]
        if spec.stream:
            assert [e["message"] for e in got] == [text for _, text in expected]
            assert got[0]["timestamp"] == int(expected[0][0].timestamp() * 1000)
        else:
            assert len(got) >= len(expected)


def check_ecs(scenario: Scenario, clients: AwsClients) -> None:
    ecs = clients.ecs
    wanted: dict[str, set[int]] = {}
    for deploy in (d for d in scenario.deploys if isinstance(d, EcsDeploy)):
        found = ecs.describe_task_definition(taskDefinition=deploy.task_definition)["taskDefinition"]
        assert (found["revision"], found["status"]) == (split_task_definition(deploy.task_definition)[1], "ACTIVE")
        if deploy.image:
            assert found["containerDefinitions"][0]["image"] == deploy.image
        for name in filter(None, (deploy.task_definition, deploy.previous)):
            family, revision = split_task_definition(name)
            wanted.setdefault(family, set()).add(revision)
    for family, revisions in wanted.items():
        active = ecs.list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"]
        assert {split_task_definition(arn)[1] for arn in active} == revisions  # fillers are INACTIVE
    for (cluster, service), deploy in latest_ecs_deploys(scenario).items():
        (found,) = ecs.describe_services(cluster=cluster, services=[service])["services"]
        assert found["taskDefinition"].endswith(f"task-definition/{deploy.task_definition}")
        assert found["deployments"][0]["rolloutState"] == "COMPLETED"


def check_lambda(scenario: Scenario, clients: AwsClients) -> None:
    deploys = sorted((d for d in scenario.deploys if isinstance(d, LambdaDeploy)), key=lambda d: d.at)
    # The alias serves the latest deploy at or before 0m (an earlier release of the function was replaced).
    current = {(d.function, d.alias or "live"): d.version for d in deploys if d.at.total_seconds() <= 0}
    for (function, alias), version in current.items():
        assert clients.lambda_.get_alias(FunctionName=function, Name=alias)["FunctionVersion"] == version
    for deploy in deploys:
        versions = clients.lambda_.list_versions_by_function(FunctionName=deploy.function)["Versions"]
        assert {deploy.version, deploy.previous} <= {v["Version"] for v in versions}


def check_codedeploy(scenario: Scenario, clients: AwsClients, summary: SeedSummary, now: datetime) -> None:
    for deploy in (d for d in scenario.deploys if isinstance(d, CodeDeployDeploy)):
        assert summary.codedeploy_ids[deploy.deployment_id] == deploy.deployment_id  # moto runs in-process here
        info = clients.codedeploy.get_deployment(deploymentId=deploy.deployment_id)["deploymentInfo"]
        assert (info["applicationName"], info["deploymentGroupName"]) == (deploy.application, deploy.group)
        assert info["status"] == "Succeeded" and near(info["createTime"], resolve_time(deploy.at, now))
        listed = clients.codedeploy.list_deployments(
            applicationName=deploy.application, deploymentGroupName=deploy.group
        )
        assert deploy.deployment_id in listed["deployments"]


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.stem)
def test_seeded_world_reads_back_through_boto3(moto_endpoint: str, path: Path) -> None:
    scenario = load_scenario(path)
    reset(moto_endpoint)
    # The scenario's own region, as SandboxWorld seeds it (moto keeps one backend per region).
    clients = AwsClients.connect(moto_endpoint, scenario.region)
    now = datetime.now(UTC)
    summary = seed_aws(scenario, now, clients, alarm_actions=[TOPIC])
    assert summary.alarms == len(scenario.alarms) and summary.other_alarms == len(scenario.other_alarms)
    assert summary.metric_points > 0 and summary.log_events > 0 and summary.backdated > 0
    check_alarms(scenario, clients, now)
    check_metrics(scenario, clients, now)
    check_logs(scenario, clients, now)
    check_ecs(scenario, clients)
    check_lambda(scenario, clients)
    check_codedeploy(scenario, clients, summary, now)


def test_seed_from_an_endpoint_url(moto_endpoint: str) -> None:
    reset(moto_endpoint)
    scenario = load_scenario(SCENARIO_FILES[-1])
    summary = seed_aws(scenario, datetime.now(UTC), moto_endpoint)
    assert (summary.task_definitions, summary.lambda_versions, summary.codedeploy_deployments) == (42, 17, 1)


def test_fire_alarm_moves_the_alarm_to_alarm_with_its_timestamp(clients: AwsClients) -> None:
    scenario = load_scenario(REPO / "tests/scenarios/ecs-bad-deploy.yaml")
    now = datetime.now(UTC)
    seed_aws(scenario, now, clients)
    alarm = scenario.incident_alarm
    reason, data = breach_reason(alarm, alarm_points(scenario, alarm, now), now)
    before = datetime.now(UTC)
    fired = fire_alarm(clients.cloudwatch, alarm, reason, data)
    after = datetime.now(UTC)
    (found,) = clients.cloudwatch.describe_alarms(AlarmNames=[alarm.name])["MetricAlarms"]
    assert fired.state == found["StateValue"] == "ALARM"
    assert fired.arn == found["AlarmArn"] == f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm.name}"
    assert fired.state_updated == found["StateUpdatedTimestamp"]
    assert before - timedelta(milliseconds=5) <= fired.state_updated <= after + timedelta(milliseconds=5)
    assert found["StateReason"] == reason == fired.reason and reason.startswith("Threshold Crossed: 3 out of")
    assert json.loads(found["StateReasonData"])["threshold"] == alarm.threshold
    alarming = clients.cloudwatch.describe_alarms(StateValue="ALARM")["MetricAlarms"]
    assert alarm.name in {a["AlarmName"] for a in alarming}


def test_fire_alarm_without_a_reason(clients: AwsClients) -> None:
    scenario = load_scenario(SCENARIO_FILES[-1])
    seed_aws(scenario, datetime.now(UTC), clients)
    fired = fire_alarm(clients.cloudwatch, scenario.incident_alarm)
    assert fired.state == "ALARM" and "threshold (50.0)" in fired.reason


def test_logs_insights_sees_the_seeded_window(clients: AwsClients) -> None:
    scenario = load_scenario(REPO / "tests/scenarios/ecs-bad-deploy.yaml")
    now = datetime.now(UTC)
    seed_aws(scenario, now, clients)
    started = clients.logs.start_query(
        logGroupName="/ecs/prod-web/checkout",
        startTime=int((now - timedelta(minutes=30)).timestamp()),
        endTime=int(now.timestamp()) + 1,
        queryString="fields @timestamp, @message | sort @timestamp desc | limit 50",
    )
    deadline = time.monotonic() + 10
    result: dict[str, Any] = {"status": "Running"}
    while result["status"] in ("Scheduled", "Running") and time.monotonic() < deadline:
        result = clients.logs.get_query_results(queryId=started["queryId"])
    assert result["status"] == "Complete" and len(result["results"]) == 50
    messages = [next(f["value"] for f in row if f["field"] == "@message") for row in result["results"]]
    assert any("ArithmeticException" in message for message in messages)


def test_seeding_twice_without_reset_is_refused(clients: AwsClients) -> None:
    scenario = load_scenario(SCENARIO_FILES[-1])
    seed_aws(scenario, datetime.now(UTC), clients)
    with pytest.raises(Exception, match=r"already exists|reset moto"):
        seed_aws(scenario, datetime.now(UTC), clients)
