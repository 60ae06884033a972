"""Neighbourhood evidence: which series are planned (nearest first, unreadable ones named) and what a golden-signal
series becomes (shift in the bad direction or not, a hard limit reached, nothing at all)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from oncall_agent.domain.catalog import Service
from oncall_agent.domain.neighbourhood import Resource, Via
from oncall_agent.domain.records import MetricSeries
from oncall_agent.investigation.correlate.context import CorrelationContext
from oncall_agent.investigation.neighbourhood.evidence import series_evidence
from oncall_agent.investigation.neighbourhood.golden_signals import profiles_for
from oncall_agent.investigation.neighbourhood.signal_model import PlannedSeries, plan_series
from oncall_agent.investigation.neighbourhood.source import plan

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
SERVICE = Service(name="orders")
CTX = CorrelationContext(
    service=SERVICE,
    catalog=[SERVICE],
    alarm_name="orders-5xx",
    alarm_metric=None,
    onset=NOW - timedelta(minutes=5),
    window_start=NOW - timedelta(minutes=60),
    now=NOW,
)


def _resource(rtype: str, rid: str, role: str, **attributes: object) -> Resource:
    return Resource(type=rtype, id=rid, role=role, owner="orders", via=[Via.CATALOG], attributes=attributes)


def _planned(resource: Resource, metric: str) -> PlannedSeries:
    (profile,) = profiles_for(resource.type)
    series = plan_series(profile, resource.id, resource.attributes, "eu-west-1", None)
    return next(s for s in series if s.metric.name == metric)


def _series(planned: PlannedSeries, values: list[float]) -> MetricSeries:
    points = [(NOW - timedelta(minutes=len(values) - i), v) for i, v in enumerate(values)]
    return MetricSeries(metric=planned.metric, stat=planned.signal.stat, period=60, points=points)


def test_plan_orders_nearest_first_and_names_unreadable() -> None:
    table = Resource(
        type="AWS::DynamoDB::Table", id="ledger", role="dependency:pay", owner="pay", via=[Via.TAG], attributes={}
    )
    ecs = _resource("AWS::ECS::Service", "core/orders", "self")
    group = _resource("AWS::ElasticLoadBalancingV2::TargetGroup", "targetgroup/orders/1", "front")
    planned, unreadable = plan([table, group, ecs], "eu-west-1", None)
    assert [r.id for r, _ in planned][:3] == ["core/orders"] * 3 and planned[-1][0].id == "ledger"
    assert unreadable == [
        "AWS::ElasticLoadBalancingV2::TargetGroup targetgroup/orders/1: AWS/ApplicationELB needs load_balancer",
        "AWS::ElasticLoadBalancingV2::TargetGroup targetgroup/orders/1: AWS/NetworkELB needs load_balancer",
    ]


def test_connections_ramp_to_max_connections() -> None:
    db = _resource("AWS::RDS::DBInstance", "orders-db", "behind", max_connections=500)
    planned = _planned(db, "DatabaseConnections")
    values = [100.0 + (i % 3) for i in range(40)] + [150.0, 250.0, 350.0, 450.0, 500.0, 500.0, 500.0]
    item = series_evidence(db, planned, _series(planned, values), CTX)
    assert item is not None and item.entity == "orders-db" and item.source == "neighbourhood"
    details = item.details
    # Ordinary clients are refused three short of max_connections (PostgreSQL's superuser reserve).
    assert (details["signal_kind"], details["bad"], details["limit"], details["peak"]) == ("saturation", True, 497, 500)
    assert details["crossed_limit_at"] == (NOW - timedelta(minutes=3)).isoformat()
    assert details["onset"] == (NOW - timedelta(minutes=7)).isoformat() and not details["at_limit_from_start"]


def test_connections_flat_at_the_superuser_reserve_reached_the_limit() -> None:
    # PostgreSQL answers "remaining connection slots are reserved for non-replication superuser connections" at
    # 397 of 400: the count flattens there and never shows 400.
    db = _resource("AWS::RDS::DBInstance", "promo-db", "behind", max_connections=400)
    planned = _planned(db, "DatabaseConnections")
    values = [120.0 + (i % 3) for i in range(30)] + [165.0, 231.0, 290.0, 344.0, 397.0, 397.0, 397.0, 397.0]
    item = series_evidence(db, planned, _series(planned, values), CTX)
    assert item is not None and item.details["limit"] == 397
    assert item.details["crossed_limit_at"] == (NOW - timedelta(minutes=4)).isoformat()
    below = series_evidence(db, planned, _series(planned, [v - 4 if v > 300 else v for v in values]), CTX)
    assert below is not None and below.details["crossed_limit_at"] is None


def test_a_good_way_shift_is_not_bad_and_a_flat_series_says_nothing() -> None:
    queue = _resource("AWS::SQS::Queue", "jobs", "behind")
    planned = _planned(queue, "ApproximateNumberOfMessagesVisible")
    falling = [900.0 + (i % 5) for i in range(40)] + [10.0] * 6
    item = series_evidence(queue, planned, _series(planned, falling), CTX)
    assert item is not None and item.details["direction"] == "down" and item.details["bad"] is False
    assert series_evidence(queue, planned, _series(planned, [900.0 + (i % 5) for i in range(46)]), CTX) is None
    assert series_evidence(queue, planned, _series(planned, []), CTX) is None


def test_at_the_limit_all_along_is_reported_without_a_shift() -> None:
    link = _resource("AWS::DirectConnect::Connection", "dxcon-fg31dyv6", "behind")
    planned = _planned(link, "ConnectionState")
    item = series_evidence(link, planned, _series(planned, [0.0] * 30), CTX)
    assert item is not None and item.details["detected"] is False and item.details["at_limit_from_start"] is True
    assert item.at == NOW - timedelta(minutes=30)


def test_a_recorded_series_that_starts_shortly_before_the_step_still_shows_it() -> None:
    table = _resource("AWS::DynamoDB::Table", "sessions", "behind")
    planned = _planned(table, "WriteThrottleEvents")
    values = [0.0, 0.0, 0.0, 0.0, 0.0, 240.0, 1310.0, 2980.0, 4410.0, 5120.0, 5600.0, 5490.0, 5710.0, 5650.0, 5580.0]
    item = series_evidence(table, planned, _series(planned, values), CTX)
    assert item is not None and item.details["bad"] is True
    assert item.details["onset"] == (NOW - timedelta(minutes=10)).isoformat()
