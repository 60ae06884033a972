"""Format 2 in the sandbox, read the way the production adapters read AWS: boto3 clients built by the agent's
own factory from the settings the sandbox hands it (credentials of the scenario's non-default account, the
Health stand-in through `aws.service_endpoints`). Expected values come from the scenario file.

moto's state is global to the process: the module's world resets it before seeding.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from oncall_agent.bootstrap import aws_client_factory
from oncall_agent.sandbox.generate import recorded_points
from oncall_agent.sandbox.scenario import EcsStoppedTask, HealthEvent, RdsEvent, Scenario, load_scenario, resolve_time
from oncall_agent.sandbox.world import SandboxWorld
from oncall_agent.settings import Settings

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

EXAMPLE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "scenario_format2_example.yaml"
ACCOUNT = "210987654321"
LB_ID = "app/prod-core/50dc6c495c0c9188"
TG_ID = "targetgroup/orders-api/9b8a7c"


@dataclass
class Seeded:
    world: SandboxWorld
    scenario: Scenario
    settings: Settings
    now: datetime

    def client(self, service: str) -> Any:
        return aws_client_factory(self.settings, service)(self.scenario.region)

    def at(self, offset: timedelta) -> datetime:
        return resolve_time(offset, self.now)


@pytest.fixture(scope="module")
def seeded() -> Iterator[Seeded]:
    scenario = load_scenario(EXAMPLE)
    world = SandboxWorld(scenario)
    try:
        world.start()
        now = datetime.now(UTC)
        world.seed(now)
        settings = Settings(**world.agent_config(store_url="sqlite:///:memory:", http_port=0))
        yield Seeded(world, scenario, settings, now)
    finally:
        world.stop()


def near(moment: datetime, expected: datetime, seconds: float = 1.0) -> bool:
    return abs((moment - expected).total_seconds()) <= seconds


def test_the_agent_reads_the_scenarios_account_with_the_credentials_it_is_given(seeded: Seeded) -> None:
    assert seeded.scenario.account == ACCOUNT
    assert seeded.client("sts").get_caller_identity()["Account"] == ACCOUNT
    alarm = seeded.client("cloudwatch").describe_alarms(AlarmNames=[seeded.scenario.incident_alarm.name])
    found = alarm["MetricAlarms"][0]
    assert f":{ACCOUNT}:alarm:" in found["AlarmArn"]
    # Back-dated in that account: quiet since the start of the window, not since seeding.
    assert near(found["StateUpdatedTimestamp"], seeded.at(timedelta(hours=-3)), 2)


def test_the_default_credentials_see_nothing_of_that_account(seeded: Seeded) -> None:
    assert seeded.world.endpoints is not None
    from oncall_agent.adapters.aws.clients import make_client

    other = make_client(
        "cloudwatch", "us-east-1", seeded.world.endpoints.aws, access_key_id="testing", secret_access_key="testing"
    )
    assert other.describe_alarms()["MetricAlarms"] == []


def test_ecs_service_reports_its_target_groups_and_events(seeded: Seeded) -> None:
    service = seeded.client("ecs").describe_services(cluster="prod-core", services=["orders-api"])["services"][0]
    assert [lb["targetGroupArn"] for lb in service["loadBalancers"]] == [
        f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:{TG_ID}"
    ]
    event = next(e for e in seeded.scenario.events if e.source == "ecs")
    newest = service["events"][0]
    assert newest["message"] == "(service orders-api) has stopped 3 running tasks"
    assert near(newest["createdAt"], seeded.at(event.at))
    assert [e["createdAt"] for e in service["events"]] == sorted(
        (e["createdAt"] for e in service["events"]), reverse=True
    )


def test_stopped_tasks_of_the_service(seeded: Seeded) -> None:
    ecs = seeded.client("ecs")
    arns = ecs.list_tasks(cluster="prod-core", serviceName="orders-api", desiredStatus="STOPPED")["taskArns"]
    assert len(arns) == 1
    assert ecs.list_tasks(cluster="prod-core", serviceName="other", desiredStatus="STOPPED")["taskArns"] == []
    task = ecs.describe_tasks(cluster="prod-core", tasks=arns)["tasks"][0]
    spec = next(e for e in seeded.scenario.events if isinstance(e, EcsStoppedTask))
    assert task["lastStatus"] == "STOPPED" and task["desiredStatus"] == "STOPPED"
    assert task["stoppedReason"] == spec.stopped_reason
    assert [c["exitCode"] for c in task["containers"]] == [137]
    assert near(task["stoppedAt"], seeded.at(spec.at))
    assert task["taskDefinitionArn"].endswith(":task-definition/orders-api:1")
    assert task["availabilityZone"] == "us-east-1a" and task["group"] == "service:orders-api"


def test_target_group_leads_to_its_load_balancer_with_the_scenarios_ids(seeded: Seeded) -> None:
    elbv2 = seeded.client("elbv2")
    arn = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:{TG_ID}"
    group = elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]
    assert group["TargetGroupName"] == "orders-api"
    assert group["LoadBalancerArns"] == [f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:loadbalancer/{LB_ID}"]
    balancer = elbv2.describe_load_balancers(LoadBalancerArns=group["LoadBalancerArns"])["LoadBalancers"][0]
    assert balancer["LoadBalancerName"] == "prod-core" and balancer["Type"] == "application"
    assert elbv2.describe_load_balancers(Names=["prod-core"])["LoadBalancers"][0]["LoadBalancerArn"].endswith(LB_ID)


def test_web_acl_protecting_the_load_balancer(seeded: Seeded) -> None:
    arn = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:loadbalancer/{LB_ID}"
    acl = seeded.client("wafv2").get_web_acl_for_resource(ResourceArn=arn)["WebACL"]
    assert acl["Name"] == "prod-core-edge" and f":{ACCOUNT}:regional/webacl/prod-core-edge/" in acl["ARN"]


def test_rds_proxy_targets(seeded: Seeded) -> None:
    targets = seeded.client("rds").describe_db_proxy_targets(DBProxyName="orders-proxy")["Targets"]
    assert [(t["RdsResourceId"], t["Type"]) for t in targets] == [("orders-db", "RDS_INSTANCE")]


def test_rds_events_in_their_time_window(seeded: Seeded) -> None:
    rds = seeded.client("rds")
    spec = next(e for e in seeded.scenario.events if isinstance(e, RdsEvent))
    events = rds.describe_events(SourceIdentifier="orders-db", SourceType="db-instance", Duration=60)["Events"]
    # moto's own creation event is days old: only the scenario's falls in the last hour.
    assert [(e["Message"], e["EventCategories"]) for e in events] == [(spec.message, ["notification"])]
    assert near(events[0]["Date"], seeded.at(spec.at))
    assert events[0]["SourceArn"] == f"arn:aws:rds:us-east-1:{ACCOUNT}:db:orders-db"
    before = rds.describe_events(StartTime=seeded.at(timedelta(hours=-2)), EndTime=seeded.at(timedelta(minutes=-13)))
    assert before["Events"] == []
    assert rds.describe_events(Duration=60, EventCategories=["failover"])["Events"] == []
    created = rds.describe_events(StartTime=seeded.at(timedelta(days=-4)), EndTime=seeded.now)["Events"]
    assert any("created" in e["Message"].lower() for e in created)


def test_tagging_api_finds_resources_tagged_for_the_service(seeded: Seeded) -> None:
    tagging = seeded.client("resourcegroupstaggingapi")
    found = tagging.get_resources(TagFilters=[{"Key": "service", "Values": ["orders-api"]}])["ResourceTagMappingList"]
    assert sorted(r["ResourceARN"] for r in found) == [
        f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:loadbalancer/{LB_ID}",
        f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders-events",
    ]
    database = tagging.get_resources(TagFilters=[{"Key": "service", "Values": ["orders-db"]}])["ResourceTagMappingList"]
    assert [r["ResourceARN"] for r in database] == [f"arn:aws:rds:us-east-1:{ACCOUNT}:db:orders-db"]


def test_recorded_points_through_list_metrics_and_get_metric_data(seeded: Seeded) -> None:
    cloudwatch = seeded.client("cloudwatch")
    dimension = {"Name": "DBInstanceIdentifier", "Value": "orders-db"}
    listed = cloudwatch.list_metrics(Namespace="AWS/RDS", Dimensions=[dimension])["Metrics"]
    assert [m["MetricName"] for m in listed] == ["DatabaseConnections"]
    series = seeded.scenario.metrics[1]
    expected = recorded_points(series, seeded.now)
    query = {
        "Id": "m",
        "MetricStat": {
            "Metric": {"Namespace": "AWS/RDS", "MetricName": "DatabaseConnections", "Dimensions": [dimension]},
            "Period": 60,
            "Stat": "Maximum",
        },
    }
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[query],
        # Whole periods, as the metric reader asks (moto buckets from StartTime).
        StartTime=seeded.at(timedelta(minutes=-30)).replace(second=0, microsecond=0),
        EndTime=seeded.now.replace(second=0, microsecond=0) + timedelta(minutes=1),
        ScanBy="TimestampAscending",
    )["MetricDataResults"][0]
    assert answer["Values"] == [value for _, value in expected]
    assert answer["Values"][0] == 312 and answer["Values"][-1] == 494
    assert near(answer["Timestamps"][0], expected[0][0])


def test_health_events_entities_and_details(seeded: Seeded) -> None:
    health = seeded.client("health")
    spec = next(e for e in seeded.scenario.events if isinstance(e, HealthEvent))
    events = health.describe_events(filter={"services": ["EC2"], "eventStatusCodes": ["open"]})["events"]
    assert [(e["eventTypeCode"], e["region"], e["statusCode"]) for e in events] == [
        ("AWS_EC2_OPERATIONAL_ISSUE", "us-east-1", "open")
    ]
    assert near(events[0]["startTime"], seeded.at(spec.at))
    window = {"from": seeded.at(timedelta(minutes=-30)), "to": seeded.now}
    assert health.describe_events(filter={"startTimes": [window]})["events"] == []
    arn = events[0]["arn"]
    entities = health.describe_affected_entities(filter={"eventArns": [arn]})["entities"]
    assert [(e["entityValue"], e["awsAccountId"]) for e in entities] == [("i-0abc1234", ACCOUNT)]
    details = health.describe_event_details(eventArns=[arn])["successfulSet"]
    assert details[0]["eventDescription"]["latestDescription"] == spec.message
    by_entity = health.describe_events(filter={"entityValues": ["i-0abc1234"]})["events"]
    assert [e["arn"] for e in by_entity] == [arn]


def test_the_agents_catalog_carries_declared_resources_and_target_groups(seeded: Seeded) -> None:
    orders = next(s for s in seeded.settings.services if s.name == "orders-api")
    assert orders.ecs is not None and orders.ecs.target_groups == [TG_ID]
    assert [(r.type, r.id) for r in orders.resources] == [("AWS::RDS::DBInstance", "orders-db")]
    assert seeded.settings.aws.service_endpoints["health"] == seeded.world.endpoints.health  # type: ignore[union-attr]
