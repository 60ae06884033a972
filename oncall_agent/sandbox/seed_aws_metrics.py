"""Seed a scenario's metric series into moto with PutMetricData, as plain values at their timestamps.

Generated series (`baseline`, `noise`, `changes`) and recorded ones (`points`, format 2) alike. Percentile
statistics are computed from these same values (`moto_percentiles`). When a scenario seeds more than one
statistic of one metric (its p50 and its p99), each is also registered as its own series (`moto_series`), so
GetMetricData answers each statistic from its own values; a metric with one statistic is unregistered, so a
world seeded earlier in the process leaves nothing behind.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from oncall_agent.sandbox import moto_series
from oncall_agent.sandbox.generate import metric_points
from oncall_agent.sandbox.scenario import MetricQuery, Scenario
from oncall_agent.sandbox.scenario_targets import account_of

METRIC_BATCH = 1000  # PutMetricData takes at most 1,000 metrics per request


def _metric_key(metric: MetricQuery) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    return metric.namespace, metric.name, tuple(sorted(metric.dimensions.items()))


def _put(cloudwatch: Any, metric: MetricQuery, points: list[tuple[datetime, float]]) -> None:
    extra = {"StorageResolution": 1} if metric.period < 60 else {}  # high-resolution series
    dimensions = [{"Name": name, "Value": value} for name, value in metric.dimensions.items()]
    data = [
        {"MetricName": metric.name, "Dimensions": dimensions, "Timestamp": at, "Value": value, **extra}
        for at, value in points
    ]
    for start in range(0, len(data), METRIC_BATCH):
        cloudwatch.put_metric_data(Namespace=metric.namespace, MetricData=data[start : start + METRIC_BATCH])


def seed_metrics(scenario: Scenario, now: datetime, cloudwatch: Any) -> int:
    """Put every series point as a plain value; returns the number of points."""
    count = 0
    statistics_of = Counter(_metric_key(series.metric) for series in scenario.metrics)
    for index, series in enumerate(scenario.metrics):
        metric = series.metric
        points = metric_points(series, now, f"{scenario.id}:metrics:{index}")
        _put(cloudwatch, metric, points)
        shared = statistics_of[_metric_key(metric)] > 1
        moto_series.register(
            account_of(scenario),
            scenario.region,
            (metric.namespace, metric.name, dict(metric.dimensions)),
            metric.stat,
            points if shared else None,
        )
        count += len(points)
    return count
