"""Every resource type the sandbox seeds for format 2, read through boto3 as the agent's factory builds it, in a
non-default account and region: the scenario's ids where CloudWatch uses them, the attributes each describe
call reports, the tags the Resource Groups Tagging API finds, recorded p50/p99 points of one metric.

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
from oncall_agent.sandbox.scenario import Scenario, load_scenario, resolve_time
from oncall_agent.sandbox.world import SandboxWorld
from oncall_agent.settings import Settings

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "scenario_format2_resources.yaml"
ACCOUNT, REGION = "345678901234", "eu-west-1"
LB_ID = "net/shop-edge/6f5e4d3c2b1a0f9e"
API_TG, ADMIN_TG = "targetgroup/catalog-api/0a1b2c3d4e5f6a7b", "targetgroup/catalog-admin/1f2e3d4c"
PREFIX = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:"


@dataclass
class Seeded:
    world: SandboxWorld
    scenario: Scenario
    settings: Settings
    now: datetime
    summary: Any

    def client(self, service: str) -> Any:
        return aws_client_factory(self.settings, service)(REGION)

    def at(self, offset: timedelta) -> datetime:
        return resolve_time(offset, self.now)


@pytest.fixture(scope="module")
def seeded() -> Iterator[Seeded]:
    scenario = load_scenario(FIXTURE)
    world = SandboxWorld(scenario)
    try:
        world.start()
        now = datetime.now(UTC)
        summary, _ = world.seed(now)
        settings = Settings(**world.agent_config(store_url="sqlite:///:memory:", http_port=0))
        yield Seeded(world, scenario, settings, now, summary)
    finally:
        world.stop()


def test_every_declared_type_is_seeded(seeded: Seeded) -> None:
    assert seeded.summary.unseeded_resources == []
    assert seeded.summary.resources == len(seeded.scenario.resources)


def test_direct_connect_connection_keeps_the_scenarios_id(seeded: Seeded) -> None:
    found = seeded.client("directconnect").describe_connections(connectionId="dxcon-fgabc123")["connections"]
    assert [(c["connectionId"], c["bandwidth"], c["connectionState"]) for c in found] == [
        ("dxcon-fgabc123", "1Gbps", "available")
    ]


def test_network_load_balancer_with_a_listener_per_target_group(seeded: Seeded) -> None:
    elbv2 = seeded.client("elbv2")
    balancer = elbv2.describe_load_balancers(Names=["shop-edge"])["LoadBalancers"][0]
    assert balancer["LoadBalancerArn"] == f"{PREFIX}loadbalancer/{LB_ID}" and balancer["Type"] == "network"
    groups = elbv2.describe_target_groups(LoadBalancerArn=balancer["LoadBalancerArn"])["TargetGroups"]
    assert sorted(g["TargetGroupArn"] for g in groups) == sorted([PREFIX + API_TG, PREFIX + ADMIN_TG])
    assert {g["Protocol"] for g in groups} == {"TCP"}
    attributes = elbv2.describe_load_balancer_attributes(LoadBalancerArn=balancer["LoadBalancerArn"])["Attributes"]
    assert {"Key": "idle_timeout.timeout_seconds", "Value": "30"} in attributes
    alone = elbv2.describe_target_groups(Names=["batch-jobs"])["TargetGroups"][0]
    assert alone["TargetGroupArn"] == PREFIX + "targetgroup/batch-jobs/77aa88bb" and alone["LoadBalancerArns"] == []


def test_ecs_service_registers_both_target_groups(seeded: Seeded) -> None:
    service = seeded.client("ecs").describe_services(cluster="shop", services=["catalog-api"])["services"][0]
    assert [lb["targetGroupArn"] for lb in service["loadBalancers"]] == [PREFIX + API_TG, PREFIX + ADMIN_TG]


def test_an_event_can_name_a_service_outside_the_catalog_in_its_own_cluster(seeded: Seeded) -> None:
    found = seeded.client("ecs").describe_services(cluster="batch", services=["catalog-worker"])["services"][0]
    expected = resolve_time(timedelta(minutes=-20), seeded.now).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert found["events"][0]["message"] == f"(service catalog-worker) was unable to place a task at {expected}"


def test_stopped_task_on_a_named_revision_without_exit_code(seeded: Seeded) -> None:
    ecs = seeded.client("ecs")
    arns = ecs.list_tasks(cluster="shop", serviceName="catalog-api", desiredStatus="STOPPED")["taskArns"]
    task = ecs.describe_tasks(cluster="shop", tasks=arns)["tasks"][0]
    assert task["taskDefinitionArn"] == f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/catalog-api:7"
    assert task["availabilityZone"] == "eu-west-1c"
    assert "exitCode" not in task["containers"][0]


def test_dynamodb_table_with_its_capacity(seeded: Seeded) -> None:
    table = seeded.client("dynamodb").describe_table(TableName="catalog-items")["Table"]
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 40
    assert table["TableArn"] == f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/catalog-items"


def test_cache_search_stream_queue_api(seeded: Seeded) -> None:
    group = seeded.client("elasticache").describe_replication_groups(ReplicationGroupId="catalog-cache")
    assert group["ReplicationGroups"][0]["ReplicationGroupId"] == "catalog-cache"
    domain = seeded.client("opensearch").describe_domain(DomainName="catalog-search")["DomainStatus"]
    assert domain["EngineVersion"] == "OpenSearch_2.11"
    stream = seeded.client("kinesis").describe_stream_summary(StreamName="catalog-changes")
    assert stream["StreamDescriptionSummary"]["OpenShardCount"] == 2
    sqs = seeded.client("sqs")
    url = sqs.get_queue_url(QueueName="catalog-reindex.fifo")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "120" and attributes["FifoQueue"] == "true"
    certificate = "arn:aws:acm:eu-west-1:345678901234:certificate/7c9e1b3d-5f7a-4c9e-8b3d-5f7a9c1e3b5d"
    described = seeded.client("acm").describe_certificate(CertificateArn=certificate)["Certificate"]
    assert (described["DomainName"], described["Type"]) == ("*.catalog.example", "IMPORTED")
    assert seeded.client("secretsmanager").describe_secret(SecretId="prod/catalog/db")["Name"] == "prod/catalog/db"
    repository = seeded.client("ecr").describe_repositories(repositoryNames=["catalog-api"])["repositories"][0]
    assert repository["repositoryArn"] == f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/catalog-api"
    apis = seeded.client("apigateway").get_rest_apis()["items"]
    assert [api["name"] for api in apis] == ["catalog-public"]


def test_instance_keeps_the_scenarios_id(seeded: Seeded) -> None:
    reservations = seeded.client("ec2").describe_instances(InstanceIds=["i-0abc1234def567890"])["Reservations"]
    found = [(i["InstanceId"], i["InstanceType"]) for r in reservations for i in r["Instances"]]
    assert found == [("i-0abc1234def567890", "c5.xlarge")]


def test_lambda_function_with_its_settings(seeded: Seeded) -> None:
    lambda_ = seeded.client("lambda")
    assert lambda_.get_function_configuration(FunctionName="catalog-thumbnails")["Timeout"] == 60
    assert lambda_.get_function_concurrency(FunctionName="catalog-thumbnails")["ReservedConcurrentExecutions"] == 5


def test_nat_gateway_keeps_the_scenarios_id(seeded: Seeded) -> None:
    found = seeded.client("ec2").describe_nat_gateways(NatGatewayIds=["nat-0f1e2d3c4b5a69788"])["NatGateways"]
    assert [(g["NatGatewayId"], g["Tags"]) for g in found] == [
        ("nat-0f1e2d3c4b5a69788", [{"Key": "service", "Value": "catalog-api"}])
    ]


def test_rds_cluster_proxy_and_instance_parameters(seeded: Seeded) -> None:
    rds = seeded.client("rds")
    targets = rds.describe_db_proxy_targets(DBProxyName="catalog-proxy")["Targets"]
    assert [(t["TrackedClusterId"], t["Type"], t["Port"]) for t in targets] == [
        ("catalog-aurora", "TRACKED_CLUSTER", 3306)
    ]
    assert targets[0]["TargetArn"] == f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:catalog-aurora"
    assert rds.describe_db_proxies(DBProxyName="catalog-proxy")["DBProxies"][0]["EngineFamily"] == "MYSQL"
    pool = rds.describe_db_proxy_target_groups(DBProxyName="catalog-proxy")["TargetGroups"][0]["ConnectionPoolConfig"]
    assert (pool["MaxConnectionsPercent"], pool["ConnectionBorrowTimeout"]) == (90, 30)
    # Declared before its cluster, the Aurora instance still joins it.
    member = rds.describe_db_instances(DBInstanceIdentifier="catalog-aurora-1")["DBInstances"][0]
    assert (member["DBClusterIdentifier"], member["Engine"]) == ("catalog-aurora", "aurora-mysql")
    instance = rds.describe_db_instances(DBInstanceIdentifier="catalog-legacy")["DBInstances"][0]
    assert instance["DBInstanceClass"] == "db.m5.large" and instance["AvailabilityZone"] == "eu-west-1b"
    group = instance["DBParameterGroups"][0]["DBParameterGroupName"]
    parameters = rds.describe_db_parameters(DBParameterGroupName=group, Source="user")["Parameters"]
    assert [(p["ParameterName"], p["ParameterValue"]) for p in parameters] == [("max_connections", "300")]
    events = rds.describe_events(SourceType="db-cluster", Duration=60, EventCategories=["failover"])["Events"]
    assert [e["SourceIdentifier"] for e in events] == ["catalog-aurora"]


def test_web_acl_on_an_api_and_tagging_across_services(seeded: Seeded) -> None:
    api = seeded.client("apigateway").get_rest_apis()["items"][0]["id"]
    stage = f"arn:aws:apigateway:{REGION}::/restapis/{api}/stages/prod"
    assert seeded.client("wafv2").get_web_acl_for_resource(ResourceArn=stage)["WebACL"]["Name"] == "catalog-api-acl"
    tagging = seeded.client("resourcegroupstaggingapi")
    found = tagging.get_resources(TagFilters=[{"Key": "service", "Values": ["catalog-api"]}])["ResourceTagMappingList"]
    kinds = sorted(r["ResourceARN"].split(":")[2] for r in found)
    # The incident alarm is tagged for its service too, as on AWS.
    assert kinds == [
        "acm",
        "apigateway",
        "cloudwatch",
        "directconnect",
        "dynamodb",
        "ec2",
        "ec2",
        "ecr",
        "elasticache",
        "elasticloadbalancing",
        "kinesis",
        "lambda",
        "secretsmanager",
        "wafv2",
    ]
    search = tagging.get_resources(TagFilters=[{"Key": "service", "Values": ["search"]}], ResourceTypeFilters=["es"])
    assert [r["ResourceARN"] for r in search["ResourceTagMappingList"]] == [
        f"arn:aws:es:{REGION}:{ACCOUNT}:domain/catalog-search"
    ]


def test_p50_and_p99_of_one_metric_are_two_series(seeded: Seeded) -> None:
    cloudwatch = seeded.client("cloudwatch")
    dimensions = [{"Name": "TargetGroup", "Value": API_TG}, {"Name": "LoadBalancer", "Value": LB_ID}]
    metric = {"Namespace": "AWS/ApplicationELB", "MetricName": "TargetResponseTime", "Dimensions": dimensions}
    queries = [
        {"Id": stat.lower(), "MetricStat": {"Metric": metric, "Period": 60, "Stat": stat}}
        for stat in ("p99", "p50", "Average")
    ]
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=queries,
        StartTime=seeded.at(timedelta(minutes=-10)).replace(second=0, microsecond=0),
        EndTime=seeded.now.replace(second=0, microsecond=0) + timedelta(minutes=1),
        ScanBy="TimestampAscending",
    )["MetricDataResults"]
    values = {result["Id"]: result["Values"] for result in answer}
    assert values["p99"] == [0.4, 0.5, 2.5, 3.1, 3.4]
    assert values["p50"][-6:] == [0.1, 0.1, 0.2, 0.3, 0.3, 0.3]
    assert set(values["average"]) == {0.2}
