"""The `neighbourhood` and `events` evidence sources end to end against moto server: resources created through
the real APIs, golden-signal series written with PutMetricData, the real adapters reading them. Checks the walk
(ECS -> target group -> load balancer -> WAF, declared and tagged resources, a dependency's), the ONE batched
GetMetricData call, a step on the WAF's blocked requests, a disk that reached its floor, and AWS events."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from oncall_agent.adapters.aws.aws_events import AwsEventReader
from oncall_agent.adapters.aws.clients import make_client
from oncall_agent.adapters.aws.metrics import CloudWatchMetricReader
from oncall_agent.adapters.aws.topology import AwsTopologyReader
from oncall_agent.domain.budget import CallMeter, metered
from oncall_agent.domain.catalog import Service
from oncall_agent.domain.evidence import Evidence, EvidenceKind
from oncall_agent.investigation.correlate.context import CorrelationContext
from oncall_agent.investigation.neighbourhood.explore import ExploreSettings
from oncall_agent.investigation.neighbourhood.feeds import event_evidence
from oncall_agent.investigation.neighbourhood.golden_signals import namespaces
from oncall_agent.investigation.neighbourhood.source import neighbourhood_evidence

pytestmark = [pytest.mark.sandbox]

REGION = "ca-central-1"
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
ORDERS = Service.model_validate(
    {
        "name": "nbs-orders",
        "ecs": {"cluster": "nbs-core", "service": "nbs-orders"},
        "resources": [{"type": "AWS::RDS::DBInstance", "id": "nbs-orders-db"}],
        "depends_on": ["nbs-payments"],
    }
)
PAYMENTS = Service.model_validate(
    {"name": "nbs-payments", "resources": [{"type": "AWS::DynamoDB::Table", "id": "nbs-ledger"}]}
)


def _factory(endpoint: str, api: str) -> Callable[[str], Any]:
    return functools.partial(
        make_client, api, endpoint_url=endpoint, access_key_id="testing", secret_access_key="testing", max_attempts=1
    )


def _put(cloudwatch: Any, namespace: str, name: str, dims: dict[str, str], values: list[float]) -> None:
    """One value a minute, the last at NOW - 1 min."""
    data = [
        {
            "MetricName": name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
            "Timestamp": NOW - timedelta(minutes=len(values) - i),
            "Value": value,
        }
        for i, value in enumerate(values)
    ]
    for start in range(0, len(data), 500):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + 500])


@pytest.fixture(scope="module")
def endpoint(moto_endpoint: str) -> str:
    c = {api: _factory(moto_endpoint, api)(REGION) for api in ("ec2", "elbv2", "ecs", "wafv2", "rds", "sqs")}
    vpc = c["ec2"].create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        c["ec2"].create_subnet(VpcId=vpc, CidrBlock=f"10.8.{i}.0/24", AvailabilityZone=f"{REGION}{z}")["Subnet"][
            "SubnetId"
        ]
        for i, z in ((1, "a"), (2, "b"))
    ]
    lb = c["elbv2"].create_load_balancer(Name="nbs-core", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    tg = c["elbv2"].create_target_group(Name="nbs-orders", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]
    c["elbv2"].create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}],
    )
    c["ecs"].create_cluster(clusterName="nbs-core")
    c["ecs"].register_task_definition(
        family="nbs-orders", containerDefinitions=[{"name": "app", "image": "x", "memory": 256}]
    )
    c["ecs"].create_service(
        cluster="nbs-core",
        serviceName="nbs-orders",
        taskDefinition="nbs-orders",
        desiredCount=1,
        loadBalancers=[{"targetGroupArn": tg["TargetGroupArn"], "containerName": "app", "containerPort": 80}],
    )
    acl = c["wafv2"].create_web_acl(
        Name="nbs-edge",
        Scope="REGIONAL",
        DefaultAction={"Allow": {}},
        VisibilityConfig={"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": True, "MetricName": "nbs"},
    )["Summary"]["ARN"]
    c["wafv2"].associate_web_acl(WebACLArn=acl, ResourceArn=lb)
    c["rds"].create_db_instance(
        DBInstanceIdentifier="nbs-orders-db",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="u",
        MasterUserPassword="password123",
        AllocatedStorage=20,
    )
    c["sqs"].create_queue(QueueName="nbs-orders-events", tags={"service": "nbs-orders"})
    cloudwatch = _factory(moto_endpoint, "cloudwatch")(REGION)
    waf = {"WebACL": "nbs-edge", "Rule": "ALL", "Region": REGION}
    _put(cloudwatch, "AWS/WAFV2", "BlockedRequests", waf, [float(i % 3) for i in range(50)] + [400.0] * 10)
    _put(cloudwatch, "AWS/WAFV2", "AllowedRequests", waf, [1000.0 + i % 7 for i in range(60)])
    disk = [8e9 - i * 1.4e8 for i in range(58)] + [0.0, 0.0]  # a slow fill, then full
    _put(cloudwatch, "AWS/RDS", "FreeStorageSpace", {"DBInstanceIdentifier": "nbs-orders-db"}, disk)
    return moto_endpoint


def _ctx() -> CorrelationContext:
    return CorrelationContext(
        service=ORDERS,
        catalog=[ORDERS, PAYMENTS],
        alarm_name="nbs-orders-5xx",
        alarm_metric=None,
        onset=NOW - timedelta(minutes=8),
        window_start=NOW - timedelta(minutes=90),
        now=NOW,
    )


def _neighbourhood(endpoint: str, meter: CallMeter) -> list[Evidence]:
    apis = ("ecs", "elbv2", "wafv2", "rds", "resourcegroupstaggingapi")
    topology = AwsTopologyReader({api: _factory(endpoint, api) for api in apis})
    metrics = CloudWatchMetricReader(_factory(endpoint, "cloudwatch"))
    with metered(meter):
        return neighbourhood_evidence(ORDERS, [ORDERS, PAYMENTS], REGION, topology, metrics, ExploreSettings(), _ctx())


def test_walk_reads_every_golden_signal_in_one_request(endpoint: str) -> None:
    meter = CallMeter("neighbourhood", limit=100)
    found = _neighbourhood(endpoint, meter)
    assert meter.calls["cloudwatch.GetMetricData"] == 1 and meter.refused == 0
    assert meter.calls["cloudwatch.ListMetrics"] == len(namespaces())  # charged from the pool's threads too
    (looked,) = [e for e in found if e.kind is EvidenceKind.LOOKED_AT]
    seen = {(r["id"], r["role"], tuple(r["via"])) for r in looked.details["resources"]}
    assert {
        ("nbs-core/nbs-orders", "self", ("catalog",)),
        ("app/nbs-core/" + _lb_hash(looked), "front", ("elbv2",)),
        ("nbs-edge", "front", ("wafv2", "list_metrics")),
        ("nbs-orders-db", "behind", ("catalog", "list_metrics")),
        ("nbs-orders-events", "behind", ("tag",)),
        ("nbs-ledger", "dependency:nbs-payments", ("catalog",)),
    } <= seen
    db = next(r for r in looked.details["resources"] if r["id"] == "nbs-orders-db")
    assert (db["attributes"]["engine"], db["attributes"]["instance_class"]) == ("postgres", "db.t3.micro")  # described
    assert looked.details["series"] == sum(r["series"] for r in looked.details["resources"]) > 30


def _lb_hash(looked: Evidence) -> str:
    lb = next(r["id"] for r in looked.details["resources"] if r["type"].endswith("::LoadBalancer"))
    return lb.rsplit("/", 1)[-1]


def test_blocked_requests_step_and_a_full_disk(endpoint: str) -> None:
    found = _neighbourhood(endpoint, CallMeter("neighbourhood", limit=100))
    shifts = {(e.entity, e.details["metric"]): e for e in found if e.kind is EvidenceKind.METRIC_SHIFT}
    blocked = shifts[("nbs-edge", "BlockedRequests")]
    assert (blocked.details["signal_kind"], blocked.details["role"], blocked.details["bad"]) == (
        "blocked",
        "front",
        True,
    )
    assert blocked.at == NOW - timedelta(minutes=10) and blocked.details["after"] == 400.0
    assert ("nbs-edge", "AllowedRequests") not in shifts  # steady: nothing to say
    disk = shifts[("nbs-orders-db", "FreeStorageSpace")]
    # 20 MB free of 8 GB a minute before it hit 0 already counts as full (a floor is reached within 1% of the fullest)
    assert disk.details["limit"] == 0 and disk.details["crossed_limit_at"] == (NOW - timedelta(minutes=3)).isoformat()
    assert disk.details["owner"] == "nbs-orders" and disk.details["bad_direction"] == "down"


def test_events_source(endpoint: str) -> None:
    feed = AwsEventReader({api: _factory(endpoint, api) for api in ("rds", "ecs", "health")})
    ctx = _ctx()
    found = event_evidence(
        ORDERS,
        [ORDERS, PAYMENTS],
        REGION,
        feed,
        replace(ctx, now=datetime.now(UTC) + timedelta(minutes=1)),
    )
    created = [e for e in found if e.kind is EvidenceKind.AWS_EVENT and e.entity == "nbs-orders-db"]
    assert created and created[0].details["feed"] == "rds"
    assert (created[0].details["owner"], created[0].details["on_service"]) == ("nbs-orders", True)
    gaps = [e for e in found if e.kind is EvidenceKind.GAP]
    assert [g.details["reason"].split(":")[0] for g in gaps] == ["health DescribeEvents"]  # moto has no Health API
