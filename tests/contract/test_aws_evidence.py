"""The AWS evidence adapters against the real sandbox (moto server + CloudTrail stand-in), through boto3 clients
built by `make_client`: metric series (Sum and percentiles), Logs Insights samples, deploys and configuration
changes from CloudTrail, alarm snapshots. Expected values come from the scenario files and the sandbox's own
generators, so the adapters are checked against exactly what was seeded.

moto's state is global to the process: the module resets it before seeding (xdist: --dist loadfile keeps
modules apart). A second scenario (config-change-sg) is seeded into the CloudTrail stand-in only.
"""

from __future__ import annotations

import functools
import json
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from oncall_agent.adapters.aws.clients import make_client
from oncall_agent.adapters.aws.cloudtrail import CloudTrailChangeHistory, CloudTrailDeployHistory
from oncall_agent.adapters.aws.cloudtrail_events import TrailEvent, is_deploy
from oncall_agent.adapters.aws.cloudwatch import CloudWatchAlarmSource
from oncall_agent.adapters.aws.logs import (
    LogGroupsNotFound,
    LogQueryFailed,
    LogsInsightsSearch,
    parse_insights_timestamp,
    parse_row,
)
from oncall_agent.adapters.aws.metrics import CloudWatchMetricReader, aligned_window
from oncall_agent.domain.alarm import AlarmState, MetricSpec
from oncall_agent.domain.catalog import Service
from oncall_agent.domain.records import DeployKind
from oncall_agent.ports import ChangeHistory, DeployHistory, LogSearch, MetricReader
from oncall_agent.sandbox import moto_percentiles
from oncall_agent.sandbox.generate import log_lines, metric_points
from oncall_agent.sandbox.scenario import Scenario, load_scenario
from oncall_agent.sandbox.seed_aws import seed_metrics
from oncall_agent.sandbox.seed_standins import seed_standins
from oncall_agent.sandbox.world import SandboxWorld
from tests.conftest import SCENARIOS

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

OTHER_REGION = "us-west-2"  # a second moto region for the dependency-payments p99 series: no clash with ecs-bad-deploy
CHECKOUT_GROUP = "/ecs/prod-web/checkout"
ROUNDING_ERROR = "java.lang.ArithmeticException: Rounding necessary"


@dataclass
class Seeded:
    world: SandboxWorld
    scenario: Scenario
    now: datetime

    def factory(self, service: str, endpoint: str | None = None) -> Callable[[str], Any]:
        assert self.world.endpoints is not None
        return functools.partial(
            make_client,
            service,
            endpoint_url=endpoint or self.world.endpoints.aws,
            access_key_id="testing",
            secret_access_key="testing",
            max_attempts=1,
        )

    def cloudtrail(self) -> Callable[[str], Any]:
        assert self.world.endpoints is not None
        return self.factory("cloudtrail", self.world.endpoints.cloudtrail)


def reset_moto(endpoint: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


@pytest.fixture(scope="module")
def seeded() -> Iterator[Seeded]:
    moto_percentiles.install()
    scenario = load_scenario(SCENARIOS / "ecs-bad-deploy.yaml")
    world = SandboxWorld(scenario)
    try:
        endpoints = world.start()
        reset_moto(endpoints.aws)
        now = datetime.now(UTC)
        world.seed(now)
        yield Seeded(world, scenario, now)
    finally:
        world.stop()


@pytest.fixture(scope="module")
def config_change() -> Iterator[Seeded]:
    """config-change-sg in the CloudTrail stand-in only (its moto resources would clash with ecs-bad-deploy's)."""
    scenario = load_scenario(SCENARIOS / "config-change-sg.yaml")
    world = SandboxWorld(scenario)
    try:
        world.start(reset=False)  # its moto side is unused: leave the other module fixture's state alone
        now = datetime.now(UTC)
        seed_standins(scenario, now, cloudtrail=world.cloudtrail)
        yield Seeded(world, scenario, now)
    finally:
        world.stop()


def metric_of(scenario: Scenario, index: int) -> MetricSpec:
    ref = scenario.metrics[index].metric
    return MetricSpec(namespace=ref.namespace, name=ref.name, dimensions=dict(ref.dimensions))


def expected_points(scenario: Scenario, index: int, now: datetime, start: datetime) -> dict[datetime, float]:
    first, last = aligned_window(start, now, scenario.metrics[index].metric.period)
    points = metric_points(scenario.metrics[index], now, f"{scenario.id}:metrics:{index}")
    return {at: value for at, value in points if first <= at < last}


# --- metrics --------------------------------------------------------------------------------------------------


def test_sum_series_is_what_was_seeded_and_steps_up_at_the_rollout(seeded: Seeded) -> None:
    reader: MetricReader = CloudWatchMetricReader(seeded.factory("cloudwatch"))
    now, start = seeded.now, seeded.now - timedelta(minutes=30)
    series = reader.get_series(seeded.scenario.region, metric_of(seeded.scenario, 0), "Sum", 60, start, now)

    assert (series.stat, series.period) == ("Sum", 60)
    assert [at for at, _ in series.points] == sorted(at for at, _ in series.points)
    assert dict(series.points) == pytest.approx(expected_points(seeded.scenario, 0, now, start))
    # baseline 1 ± 1 until the new tasks take traffic at -6m, then a ramp to 40 ± 1 by -1m
    before = [value for at, value in series.points if at < now - timedelta(minutes=6)]
    after = [value for at, value in series.points if at >= now - timedelta(minutes=1)]
    assert before and max(before) <= 2.0
    assert after and min(after) >= 39.0


@pytest.mark.parametrize("stat", ["p99", "p90", "p50"])
def test_percentile_of_one_value_per_period_is_that_value(seeded: Seeded, stat: str) -> None:
    reader = CloudWatchMetricReader(seeded.factory("cloudwatch"))
    now, start = seeded.now, seeded.now - timedelta(minutes=20)
    metric = metric_of(seeded.scenario, 0)
    percentile = reader.get_series(seeded.scenario.region, metric, stat, 60, start, now)
    total = reader.get_series(seeded.scenario.region, metric, "Sum", 60, start, now)
    assert percentile.stat == stat
    assert percentile.points == total.points and len(percentile.points) >= 20


def test_percentiles_rank_several_values_in_one_period(seeded: Seeded) -> None:
    cloudwatch = seeded.factory("cloudwatch")(seeded.scenario.region)
    at = (seeded.now - timedelta(minutes=5)).replace(second=0, microsecond=0)
    dims = {"Api": "contract-test"}
    cloudwatch.put_metric_data(
        Namespace="Sandbox/Contract",
        MetricData=[
            {
                "MetricName": "Latency",
                "Dimensions": [{"Name": "Api", "Value": "contract-test"}],
                "Timestamp": at,
                "Values": [float(v) for v in range(1, 101)],
            }
        ],
    )
    reader = CloudWatchMetricReader(seeded.factory("cloudwatch"))
    metric = MetricSpec(namespace="Sandbox/Contract", name="Latency", dimensions=dims)
    found = {
        stat: reader.get_series(seeded.scenario.region, metric, stat, 60, at, at + timedelta(minutes=1)).points
        for stat in ("p99", "p50", "p99.9", "Average")
    }
    assert found == {"p99": [(at, 99.0)], "p50": [(at, 50.0)], "p99.9": [(at, 100.0)], "Average": [(at, 50.5)]}


def test_scenario_p99_latency_series_shows_the_psp_slowdown(seeded: Seeded) -> None:
    """dependency-payments' p99 series, seeded the sandbox way (plain values) into another region."""
    scenario = load_scenario(SCENARIOS / "dependency-payments.yaml")
    now, start = seeded.now, seeded.now - timedelta(minutes=40)
    seed_metrics(scenario, now, seeded.factory("cloudwatch")(OTHER_REGION))
    index = next(i for i, s in enumerate(scenario.metrics) if s.metric.stat == "p99")
    reader = CloudWatchMetricReader(seeded.factory("cloudwatch"))
    series = reader.get_series(OTHER_REGION, metric_of(scenario, index), "p99", 60, start, now)

    assert dict(series.points) == pytest.approx(expected_points(scenario, index, now, start))
    # 0.48 ± 0.06 s until -19m, then a ramp to 4.9 ± 0.06 s by -12m
    before = [value for at, value in series.points if at < now - timedelta(minutes=19)]
    after = [value for at, value in series.points if at >= now - timedelta(minutes=12)]
    assert before and max(before) <= 0.54
    assert after and min(after) >= 4.84


# --- logs -----------------------------------------------------------------------------------------------------


def expected_lines(seeded: Seeded, group: str, start: datetime, end: datetime) -> set[tuple[datetime, str]]:
    lines: set[tuple[datetime, str]] = set()
    for index, spec in enumerate(seeded.scenario.logs):
        if spec.group == group:
            seed = f"{seeded.scenario.id}:logs:{index}"
            lines |= {(at, text) for at, text in log_lines(spec, seeded.now, seed) if start <= at <= end}
    return lines


def test_log_sample_is_the_window_with_the_new_errors(seeded: Seeded) -> None:
    search: LogSearch = LogsInsightsSearch(seeded.factory("logs"))
    now = seeded.now
    start = (now - timedelta(minutes=30)).replace(microsecond=0)
    sample = search.sample(seeded.scenario.region, [CHECKOUT_GROUP], start, now, 10_000)

    assert not sample.truncated
    assert {(r.at, r.message) for r in sample.records} == expected_lines(seeded, CHECKOUT_GROUP, start, now)
    assert [r.at for r in sample.records] == sorted(r.at for r in sample.records)
    errors = [r for r in sample.records if ROUNDING_ERROR in r.message]
    assert errors and min(r.at for r in errors) >= now - timedelta(minutes=7)  # the template's `from: -7m`
    assert {r.stream for r in errors} == {"checkout/checkout/5d2a8f3e1c7b4a9e8f6d4c2b0a9e7f5d"}
    assert {r.group for r in sample.records} == {CHECKOUT_GROUP}


def test_log_sample_before_the_rollout_has_no_new_errors(seeded: Seeded) -> None:
    search = LogsInsightsSearch(seeded.factory("logs"))
    now = seeded.now
    end = now - timedelta(minutes=8)  # the first checkout:118 task starts at -8m, its errors at -7m
    sample = search.sample(seeded.scenario.region, [CHECKOUT_GROUP], now - timedelta(hours=1), end, 10_000)
    assert sample.records
    assert not any("ERROR" in r.message for r in sample.records)


def test_log_sample_is_bounded_to_the_newest_lines(seeded: Seeded) -> None:
    search = LogsInsightsSearch(seeded.factory("logs"))
    now = seeded.now
    start = (now - timedelta(minutes=30)).replace(microsecond=0)
    sample = search.sample(seeded.scenario.region, [CHECKOUT_GROUP, "/ecs/prod-web/payments"], start, now, 50)

    assert sample.truncated and len(sample.records) == 50
    everything = expected_lines(seeded, CHECKOUT_GROUP, start, now) | expected_lines(
        seeded, "/ecs/prod-web/payments", start, now
    )
    newest = sorted(everything, reverse=True)[:50]
    assert min(r.at for r in sample.records) == newest[-1][0]


def test_missing_log_group_is_named(seeded: Seeded) -> None:
    search = LogsInsightsSearch(seeded.factory("logs"))
    with pytest.raises(LogGroupsNotFound) as raised:
        search.sample(seeded.scenario.region, [CHECKOUT_GROUP, "/ecs/prod-web/nope"], seeded.now, seeded.now, 10)
    assert raised.value.groups == ["/ecs/prod-web/nope"]
    assert "/ecs/prod-web/nope" in str(raised.value)


def test_insights_rows_in_aws_and_moto_shapes() -> None:
    aws = datetime(2026, 11, 24, 23, 34, 12, 878000, tzinfo=UTC)
    assert parse_insights_timestamp("2026-11-24 23:34:12.878") == aws
    assert parse_insights_timestamp(str(int(aws.timestamp() * 1000))) == aws
    assert parse_insights_timestamp("2026-11-24 23:34:12") == aws.replace(microsecond=0)
    row = [
        {"field": "@timestamp", "value": "2026-11-24 23:34:12.878"},
        {"field": "@message", "value": "boom"},
        {"field": "@log", "value": "123456789012:/ecs/prod-web/checkout"},
    ]
    record = parse_row(row, default_group=None)
    assert record is not None and (record.group, record.stream, record.at) == (CHECKOUT_GROUP, None, aws)
    assert parse_row(row[:2], default_group=None) is None


def test_a_query_that_never_finishes_is_stopped_and_reported() -> None:
    class Stuck:
        stopped: list[str] = []

        def start_query(self, **_: Any) -> dict[str, str]:
            return {"queryId": "q-1"}

        def get_query_results(self, **_: Any) -> dict[str, Any]:
            return {"status": "Running", "results": []}

        def stop_query(self, **params: str) -> dict[str, bool]:
            self.stopped.append(params["queryId"])
            return {"success": True}

    clock = iter(float(t) for t in range(100))
    client = Stuck()
    search = LogsInsightsSearch(lambda _: client, 1.0, 5.0, sleep=lambda _: None, monotonic=lambda: next(clock))
    with pytest.raises(LogQueryFailed, match="still Running"):
        search.sample("us-east-1", ["/g"], datetime.now(UTC), datetime.now(UTC), 10)
    assert client.stopped == ["q-1"]


# --- deploys and changes --------------------------------------------------------------------------------------


def deploy_history(seeded: Seeded) -> DeployHistory:
    return CloudTrailDeployHistory(
        seeded.cloudtrail(),
        ecs_for_region=seeded.factory("ecs"),
        lambda_for_region=seeded.factory("lambda"),
        codedeploy_for_region=seeded.factory("codedeploy"),
    )


def service(seeded: Seeded, name: str) -> Service:
    found = seeded.scenario.service(name)
    assert found is not None
    return found


def test_deploys_name_the_culprit_task_definition_and_what_it_replaced(seeded: Seeded) -> None:
    now, region = seeded.now, seeded.scenario.region
    (deploy,) = deploy_history(seeded).deploys(region, service(seeded, "checkout"), now - timedelta(hours=3), now)

    assert (deploy.kind, deploy.service, deploy.identifier, deploy.previous) == (
        DeployKind.ECS,
        "checkout",
        "checkout:118",
        "checkout:117",
    )
    assert abs((deploy.at - (now - timedelta(minutes=9))).total_seconds()) <= 1
    assert deploy.actor == "github-actions"
    assert deploy.target == "arn:aws:ecs:us-east-1:123456789012:service/prod-web/checkout"
    assert deploy.details["image"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com/checkout:4c9e2b7"
    assert deploy.details["task_definition_arn"].endswith(":task-definition/checkout:118")
    assert (deploy.details["cluster"], deploy.details["ecs_service"]) == ("prod-web", "checkout")
    assert deploy.details["previous_source"] == "revision-1"  # the -2d deploy is beyond the 1-day lookback
    assert deploy.source_event_id and deploy.link and deploy.source_event_id in deploy.link


def test_previous_comes_from_the_deploy_before_when_it_is_in_reach(seeded: Seeded) -> None:
    now, region = seeded.now, seeded.scenario.region
    deploys = deploy_history(seeded).deploys(region, service(seeded, "checkout"), now - timedelta(days=3), now)
    assert [(d.identifier, d.previous, d.details["previous_source"]) for d in deploys] == [
        ("checkout:117", "checkout:116", "revision-1"),
        ("checkout:118", "checkout:117", "cloudtrail"),
    ]
    assert deploys[0].details["image"].endswith("checkout:b7d3f19")


def test_other_services_deploys_are_theirs(seeded: Seeded) -> None:
    now, region = seeded.now, seeded.scenario.region
    history = deploy_history(seeded)
    (inventory,) = history.deploys(region, service(seeded, "inventory"), now - timedelta(hours=3), now)
    assert (inventory.identifier, inventory.previous) == ("inventory:56", "inventory:55")
    assert history.deploys(region, service(seeded, "payments"), now - timedelta(days=3), now) == []

    (release,) = history.deploys(region, service(seeded, "search-indexer"), now - timedelta(hours=6), now)
    assert (release.kind, release.identifier, release.previous) == (
        DeployKind.LAMBDA,
        "search-indexer:31",
        "search-indexer:30",
    )
    assert release.details["alias"] == "live" and release.details["alias_version_now"] == "31"
    assert release.details["previous_source"] == "version-1"


def test_codedeploy_deployments_are_deploys_of_their_group(seeded: Seeded) -> None:
    now, region = seeded.now, seeded.scenario.region
    codedeploy = seeded.factory("codedeploy")(region)
    codedeploy.create_application(applicationName="legacy-api", computePlatform="Server")
    role = "arn:aws:iam::123456789012:role/contract-codedeploy"
    codedeploy.create_deployment_group(applicationName="legacy-api", deploymentGroupName="prod", serviceRoleArn=role)
    revision = {"revisionType": "GitHub", "gitHubLocation": {"repository": "acme/legacy-api", "commitId": "e4f5a6b"}}
    created = codedeploy.create_deployment(applicationName="legacy-api", deploymentGroupName="prod", revision=revision)
    request = {"applicationName": "legacy-api", "deploymentGroupName": "prod", "revision": revision}
    for event_id, deployment_id, age in (("cd-1", "d-EARLIER01", 5), ("cd-2", created["deploymentId"], 0.5)):
        seeded.world.cloudtrail.add_event(
            event_id, "CreateDeployment", "codedeploy.amazonaws.com", now - timedelta(hours=age), "deploy-bot",
            [{"ResourceType": "AWS::CodeDeploy::DeploymentGroup", "ResourceName": "legacy-api/prod"}],
            request, response_elements={"deploymentId": deployment_id},
        )  # fmt: skip
    target = {"application": "legacy-api", "group": "prod"}
    legacy = Service.model_validate({"name": "legacy-api", "codedeploy": target})

    (deploy,) = deploy_history(seeded).deploys(region, legacy, now - timedelta(hours=1), now)
    assert (deploy.kind, deploy.identifier, deploy.previous) == (
        DeployKind.CODEDEPLOY,
        created["deploymentId"],
        "d-EARLIER01",
    )
    assert deploy.target == "legacy-api/prod" and deploy.details["commit"] == "e4f5a6b"
    assert deploy.details["status"]  # from GetDeployment


def test_changes_are_config_writes_not_deploys(seeded: Seeded) -> None:
    now, region = seeded.now, seeded.scenario.region
    history: ChangeHistory = CloudTrailChangeHistory(seeded.cloudtrail())
    changes = history.changes(region, now - timedelta(hours=3), now)

    assert [c.event_id for c in changes] == [
        "0d6f2a41-8b3c-4e5d-9f7a-1b2c3d4e5f60",  # PutParameter at -90m
        "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",  # AuthorizeSecurityGroupIngress at -35m
    ]
    sg = changes[1]
    assert (sg.name, sg.source, sg.actor, sg.resources) == (
        "AuthorizeSecurityGroupIngress",
        "ec2.amazonaws.com",
        "netops-automation",
        ["sg-0f3e2d1c0b9a8f7e6"],
    )
    assert sg.parameters == seeded.scenario.changes[1].parameters
    assert not sg.read_only


def test_config_change_scenario_culprit_is_a_change_and_not_a_deploy(config_change: Seeded) -> None:
    now, region, scenario = config_change.now, config_change.scenario.region, config_change.scenario
    changes = CloudTrailChangeHistory(config_change.cloudtrail()).changes(region, now - timedelta(hours=3), now)
    by_id = {c.event_id: c for c in changes}

    culprit = by_id["7c1e9a52-3b4d-4e6f-9a8b-0c1d2e3f4a5b"]
    assert (culprit.name, culprit.actor, culprit.resources) == (
        "RevokeSecurityGroupIngress",
        "rkhan",
        ["sg-0d4e6f8a1b2c3d4e5"],
    )
    assert culprit.parameters == scenario.changes[1].parameters
    assert set(by_id) == {change.id for change in scenario.changes}  # incl. the desiredCount-only UpdateService
    assert by_id["2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e"].parameters["desiredCount"] == 6

    history = CloudTrailDeployHistory(config_change.cloudtrail())
    window = (now - timedelta(hours=3), now)
    shipping = [d.identifier for d in history.deploys(region, service(config_change, "shipping-api"), *window)]
    assert shipping == ["shipping-api:47"]  # the -40m scaling UpdateService is not a deploy
    assert history.deploys(region, service(config_change, "orders-api"), *window) == []


def test_failed_calls_and_scaling_are_not_deploys() -> None:
    def event(name: str, request: dict[str, Any], **record: Any) -> TrailEvent:
        body = {"requestParameters": request, **record}
        item = {"EventId": "e", "EventName": name, "EventTime": datetime.now(UTC), "CloudTrailEvent": json.dumps(body)}
        return TrailEvent.from_item(item)

    assert is_deploy(event("UpdateService", {"service": "a", "taskDefinition": "a:2"}))
    assert not is_deploy(event("UpdateService", {"service": "a", "desiredCount": 3}))
    assert event("UpdateService", {}, errorCode="AccessDenied").failed
    assert event("PutParameter", {"name": "/x"}).request == {"name": "/x"}


# --- alarm snapshots ------------------------------------------------------------------------------------------


def test_snapshots_of_named_alarms(seeded: Seeded) -> None:
    source = CloudWatchAlarmSource(seeded.factory("cloudwatch"), with_tags=True)
    region, now = seeded.scenario.region, seeded.now
    found = source.snapshots(region, ["checkout-alb-5xx", "inventory-reindex-queue-age", "no-such-alarm"])
    by_name = {s.name: s for s in found}

    assert set(by_name) == {"checkout-alb-5xx", "inventory-reindex-queue-age"}
    checkout = by_name["checkout-alb-5xx"]
    assert checkout.state is AlarmState.OK and abs((checkout.since - (now - timedelta(hours=3))).total_seconds()) < 2
    assert checkout.metric is not None and (checkout.metric.name, checkout.metric.stat) == (
        "HTTPCode_Target_5XX_Count",
        "Sum",
    )
    assert checkout.tags == {"service": "checkout", "team": "storefront", "env": "prod"}
    assert checkout.description.startswith("Checkout targets are returning 5xx. Runbook: https://")
    inventory = by_name["inventory-reindex-queue-age"]
    assert inventory.state is AlarmState.ALARM
    assert abs((inventory.since - (now - timedelta(days=2))).total_seconds()) < 2

    assert source.snapshots(region, []) == []
    everything = {s.name for s in CloudWatchAlarmSource(seeded.factory("cloudwatch")).snapshots(region)}
    assert everything >= {a.name for a in seeded.scenario.alarms} | {a.name for a in seeded.scenario.other_alarms}
