"""The golden-signal table: every entry well formed, every required resource type covered, and for each type the
series (namespace, dimensions, statistic, limit) planned for a resource, as the batched reader will send them."""

from __future__ import annotations

import re

import pytest

from oncall_agent.adapters.aws.metrics import batch_queries
from oncall_agent.domain.records import MetricQuery
from oncall_agent.investigation.neighbourhood.golden_signals import (
    GOLDEN_SIGNALS,
    namespaces,
    profiles_for,
    type_for_dimension,
)
from oncall_agent.investigation.neighbourhood.signal_model import (
    DIRECTIONS,
    KINDS,
    Profile,
    missing_fields,
    plan_series,
    template_fields,
)

STATS = {"Sum", "Average", "Maximum", "Minimum", "SampleCount"}
REQUIRED = [
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
    "AWS::WAFv2::WebACL",
    "AWS::ECS::Service",
    "AWS::Lambda::Function",
    "AWS::ApiGateway::RestApi",
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBCluster",
    "AWS::RDS::DBProxy",
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::SQS::Queue",
    "AWS::DynamoDB::Table",
    "AWS::OpenSearchService::Domain",
    "AWS::Kinesis::Stream",
    "AWS::EC2::NatGateway",
    "AWS::DirectConnect::Connection",
]
KNOWN_FIELDS = {"id", "id_head", "id_tail", "region", "account", "load_balancer"}


def _name(profile: Profile) -> str:
    return f"{profile.type}:{profile.namespace}"


@pytest.mark.parametrize("profile", GOLDEN_SIGNALS, ids=_name)
def test_entry_is_well_formed(profile: Profile) -> None:
    assert re.fullmatch(r"AWS::[A-Za-z0-9]+::[A-Za-z0-9]+", profile.type)
    assert re.fullmatch(r"(AWS|ECS)/[A-Za-z0-9]+", profile.namespace)
    assert profile.dimensions and profile.signals
    assert profile.doc.startswith("https://docs.aws.amazon.com/")
    assert template_fields(profile) <= KNOWN_FIELDS
    series = [(s.metric, tuple(sorted(s.dimensions.items()))) for s in profile.signals]
    assert len(series) == len(set(series)), "a metric listed twice with the same dimensions"
    for signal in profile.signals:
        assert signal.kind in KINDS and signal.bad in DIRECTIONS and signal.stat in STATS, signal
        assert not set(signal.dimensions) & set(profile.dimensions), signal
        if signal.limit_per_second:
            assert signal.limit_attribute and signal.stat == "Sum", signal
        if signal.limit is not None and signal.bad == "down":
            assert signal.limit == 0, f"{signal.metric}: a falling signal's hard limit is its floor"


@pytest.mark.parametrize("resource_type", REQUIRED)
def test_every_required_type_has_golden_signals(resource_type: str) -> None:
    kinds = {s.kind for p in profiles_for(resource_type) for s in p.signals}
    assert kinds, resource_type
    assert kinds - {"load"}, f"{resource_type}: only load signals, nothing says it is unwell"


# type, id, attributes, namespace, dimensions, (metric, stat, limit) expected among the planned series
CASES = [
    (
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "app/prod-core/50dc6c",
        {},
        "AWS/ApplicationELB",
        {"LoadBalancer": "app/prod-core/50dc6c"},
        [("RequestCount", "Sum", None), ("HTTPCode_ELB_5XX_Count", "Sum", None)],
    ),
    (
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "net/edge/77aa",
        {},
        "AWS/NetworkELB",
        {"LoadBalancer": "net/edge/77aa"},
        [("PortAllocationErrorCount", "Sum", 1.0)],
    ),
    (
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        "targetgroup/orders/9b8a",
        {"load_balancer": "app/prod-core/50dc6c"},
        "AWS/ApplicationELB",
        {"TargetGroup": "targetgroup/orders/9b8a", "LoadBalancer": "app/prod-core/50dc6c"},
        [("UnHealthyHostCount", "Maximum", None), ("HealthyHostCount", "Minimum", 0.0)],
    ),
    (
        "AWS::WAFv2::WebACL",
        "prod-core-edge",
        {},
        "AWS/WAFV2",
        {"WebACL": "prod-core-edge", "Rule": "ALL", "Region": "eu-west-1"},
        [("BlockedRequests", "Sum", None), ("AllowedRequests", "Sum", None)],
    ),
    (
        "AWS::ECS::Service",
        "prod-core/orders-api",
        {},
        "AWS/ECS",
        {"ClusterName": "prod-core", "ServiceName": "orders-api"},
        [("CPUUtilization", "Maximum", 100.0), ("MemoryUtilization", "Maximum", 100.0)],
    ),
    (
        "AWS::Lambda::Function",
        "thumbs",
        {"timeout_ms": 3000},
        "AWS/Lambda",
        {"FunctionName": "thumbs"},
        [("Throttles", "Sum", None), ("Duration", "Maximum", 3000.0)],
    ),
    (
        "AWS::ApiGateway::RestApi",
        "orders-public",
        {},
        "AWS/ApiGateway",
        {"ApiName": "orders-public"},
        [("5XXError", "Sum", None), ("IntegrationLatency", "Maximum", 29000.0)],
    ),
    (
        "AWS::RDS::DBInstance",
        "orders-db",
        {"max_connections": 500},
        "AWS/RDS",
        {"DBInstanceIdentifier": "orders-db"},
        [
            ("DatabaseConnections", "Maximum", 497.0),  # max_connections less the superuser reserve
            ("FreeStorageSpace", "Minimum", 0.0),
            ("ReadLatency", "Average", None),
        ],
    ),
    (
        "AWS::RDS::DBCluster",
        "orders-aurora",
        {},
        "AWS/RDS",
        {"DBClusterIdentifier": "orders-aurora"},
        [("DatabaseConnections", "Maximum", None), ("CPUUtilization", "Maximum", 100.0)],
    ),
    (
        "AWS::RDS::DBProxy",
        "orders-proxy",
        {},
        "AWS/RDS",
        {"ProxyName": "orders-proxy"},
        [("DatabaseConnectionsBorrowLatency", "Average", None), ("ClientConnections", "Maximum", None)],
    ),
    (
        "AWS::ElastiCache::ReplicationGroup",
        "sessions",
        {},
        "AWS/ElastiCache",
        {"CacheClusterId": "sessions-001"},
        [
            ("EngineCPUUtilization", "Maximum", 100.0),
            ("CurrConnections", "Maximum", 65000.0),
            ("Evictions", "Sum", None),
        ],
    ),
    (
        "AWS::SQS::Queue",
        "orders-events",
        {"message_retention_period": 345600},
        "AWS/SQS",
        {"QueueName": "orders-events"},
        [
            ("ApproximateAgeOfOldestMessage", "Maximum", 345600.0),
            ("ApproximateNumberOfMessagesVisible", "Maximum", None),
        ],
    ),
    (
        "AWS::DynamoDB::Table",
        "carts",
        {"write_capacity": 100},
        "AWS/DynamoDB",
        {"TableName": "carts"},
        [
            ("ConsumedWriteCapacityUnits", "Sum", 6000.0),
            ("ConsumedReadCapacityUnits", "Sum", None),
            ("WriteThrottleEvents", "Sum", None),
        ],
    ),
    (
        "AWS::OpenSearchService::Domain",
        "search",
        {},
        "AWS/ES",
        {"DomainName": "search", "ClientId": "210987654321"},
        [
            ("ClusterIndexWritesBlocked", "Maximum", 1.0),
            ("JVMMemoryPressure", "Maximum", 92.0),
            ("ClusterStatus.red", "Maximum", 1.0),
            ("FreeStorageSpace", "Minimum", 0.0),
        ],
    ),
    (
        "AWS::Kinesis::Stream",
        "clicks",
        {},
        "AWS/Kinesis",
        {"StreamName": "clicks"},
        [
            ("WriteProvisionedThroughputExceeded", "Sum", None),
            ("GetRecords.IteratorAgeMilliseconds", "Maximum", 86400000.0),
        ],
    ),
    (
        "AWS::EC2::NatGateway",
        "nat-0abc1234",
        {},
        "AWS/NATGateway",
        {"NatGatewayId": "nat-0abc1234"},
        [
            ("ErrorPortAllocation", "Sum", 1.0),
            ("PacketsDropCount", "Sum", None),
            ("ActiveConnectionCount", "Maximum", None),
        ],
    ),
    (
        "AWS::DirectConnect::Connection",
        "dxcon-fg31dyv6",
        {},
        "AWS/DX",
        {"ConnectionId": "dxcon-fg31dyv6"},
        [("ConnectionState", "Minimum", 0.0)],
    ),
]


@pytest.mark.parametrize(("rtype", "rid", "attrs", "namespace", "dims", "expected"), CASES, ids=[c[0] for c in CASES])
def test_reader_queries_for_each_type(
    rtype: str, rid: str, attrs: dict[str, object], namespace: str, dims: dict[str, str], expected: list[tuple]
) -> None:
    planned = [s for p in profiles_for(rtype) for s in plan_series(p, rid, attrs, "eu-west-1", "210987654321", 60)]
    assert planned and {s.metric.namespace for s in planned if s.profile.namespace == namespace} == {namespace}
    by_metric = {s.metric.name: s for s in planned if s.metric.namespace == namespace}
    for metric, stat, limit in expected:
        series = by_metric[metric]
        assert series.metric.dimensions == {**dims, **series.signal.dimensions}
        assert (series.metric.stat, series.limit) == (stat, limit)
    # The batched GetMetricData body: one MetricStat per series, ids unique and valid, statistic unchanged.
    queries = [MetricQuery(metric=s.metric, stat=s.metric.stat or "", period=60) for s in planned]
    body = batch_queries(queries)
    assert len({q["Id"] for q in body}) == len(body) and all(re.fullmatch(r"[a-z][A-Za-z0-9_]*", q["Id"]) for q in body)
    for query, sent in zip(queries, body, strict=True):
        stat = sent["MetricStat"]
        assert stat["Metric"]["MetricName"] == query.metric.name and stat["Stat"] == query.stat
        assert {d["Name"]: d["Value"] for d in stat["Metric"]["Dimensions"]} == query.metric.dimensions


def test_every_required_type_has_a_case() -> None:
    assert {c[0] for c in CASES} >= set(REQUIRED)


def test_unfillable_dimension_plans_nothing() -> None:
    # Without the account an OpenSearch domain's ClientId is unknown; without its load balancer a target group's.
    (domain,) = profiles_for("AWS::OpenSearchService::Domain")
    assert missing_fields(domain, "search", {}, "eu-west-1", None) == {"account"}
    assert plan_series(domain, "search", {}, "eu-west-1", None) == []
    assert all(
        plan_series(p, "targetgroup/a/1", {}, "eu-west-1", None) == []
        for p in profiles_for("AWS::ElasticLoadBalancingV2::TargetGroup")
    )


def test_limit_attribute_that_is_not_a_number_falls_back() -> None:
    (db,) = profiles_for("AWS::RDS::DBInstance")
    planned = {s.metric.name: s.limit for s in plan_series(db, "orders-db", {"max_connections": "LEAST(x)"}, "r", None)}
    assert planned["DatabaseConnections"] is None and planned["CPUUtilization"] == 100.0


def test_dimension_lookup_for_list_metrics() -> None:
    assert type_for_dimension("AWS/RDS", "DBInstanceIdentifier")[0] == "AWS::RDS::DBInstance"  # type: ignore[index]
    assert type_for_dimension("AWS/SQS", "QueueName")[0] == "AWS::SQS::Queue"  # type: ignore[index]
    assert type_for_dimension("AWS/ECS", "ServiceName") is None  # two dimensions name one service
    assert "AWS/ES" in namespaces() and len(namespaces()) == len(set(namespaces()))
