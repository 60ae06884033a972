"""Several statistics of one metric as separate series in moto's in-process CloudWatch (format 2).

A scenario may record the p50 and the p99 of one metric (SCENARIOS.md: a series is identified by namespace,
name, dimensions *and* stat). CloudWatch computes every statistic from one set of samples, and moto from the
values put, so putting both series would mix them: the p50 query would rank p99 values too. For a metric
with more than one seeded statistic the sandbox still puts every value (ListMetrics, GetMetricStatistics), and
registers each series here; `install()` makes GetMetricData answer a query for a registered statistic from its
own series, bucketed by the query's period from its StartTime as moto buckets. A metric with one statistic
is not registered and is answered by moto as before.
"""

from __future__ import annotations

import statistics
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from oncall_agent.domain.time import as_utc
from oncall_agent.sandbox.moto_percentiles import percentile, percentile_of

_MARKER = "_oncall_agent_series"
_lock = threading.Lock()
SeriesKey = tuple[str, str, str, str, frozenset[tuple[str, str]], str]
_series: dict[SeriesKey, list[tuple[datetime, float]]] = {}


def _key(account: str, region: str, namespace: str, name: str, dimensions: dict[str, str], stat: str) -> SeriesKey:
    return (account, region, namespace, name, frozenset(dimensions.items()), stat)


def register(
    account: str,
    region: str,
    metric: tuple[str, str, dict[str, str]],
    stat: str,
    points: Sequence[tuple[datetime, float]] | None,
) -> bool:
    """Answer `stat` of (namespace, name, dimensions) from `points` (None: from moto's samples again);
    False when moto is not in this process."""
    namespace, name, dimensions = metric
    key = _key(account, region, namespace, name, dimensions, stat)
    if points is None:
        with _lock:
            _series.pop(key, None)
        return True
    if not install():
        return False
    with _lock:
        _series[key] = [(as_utc(t), v) for t, v in points]
    return True


def add_point(account: str, region: str, metric: tuple[str, str, dict[str, str]], stat: str, point: Any) -> bool:
    """Append (time, value) to a registered series (the world recovering after an action); False if none."""
    namespace, name, dimensions = metric
    with _lock:
        series = _series.get(_key(account, region, namespace, name, dimensions, stat))
        if series is None:
            return False
        series.append((as_utc(point[0]), point[1]))
    return True


def forget() -> None:
    with _lock:
        _series.clear()


def aggregate(stat: str, values: list[float]) -> float:
    """One period's value of `stat` over the recorded values falling in it."""
    q = percentile_of(stat)
    if q is not None:
        return percentile(values, q)
    functions: dict[str, Callable[[list[float]], float]] = {
        "Maximum": max,
        "Minimum": min,
        "Sum": sum,
        "Average": statistics.fmean,
        "SampleCount": lambda found: float(len(found)),
    }
    return functions.get(stat, statistics.fmean)(values)


def _answer(points: list[tuple[datetime, float]], stat: str, period: int, start: datetime, end: datetime) -> Any:
    naive = start.tzinfo is None
    start_utc, end_utc = as_utc(start), as_utc(end)
    values, stamps = [], []
    moment = start_utc
    while moment <= end_utc:
        found = [v for t, v in points if moment <= t < moment + timedelta(seconds=period) and t < end_utc]
        if found:
            values.append(aggregate(stat, found))
            stamps.append(moment.replace(tzinfo=None) if naive else moment)
        moment += timedelta(seconds=period)
    return values, stamps


def _with_series(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_metric_data(
        self: Any, queries: list[dict[str, Any]], start_time: datetime, end_time: Any, **kw: Any
    ) -> Any:
        results = original(self, queries, start_time, end_time, **kw)
        by_id = {q["Id"]: q["MetricStat"] for q in queries if "MetricStat" in q}
        for result in results:
            stat = by_id.get(result["id"])
            if stat is None:
                continue
            metric = stat["Metric"]
            dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
            key = _key(
                self.account_id, self.region_name, metric["Namespace"], metric["MetricName"], dimensions, stat["Stat"]
            )
            with _lock:
                points = _series.get(key)
            if points is None:
                continue
            start, end = start_time.replace(microsecond=0), end_time.replace(microsecond=0)
            values, stamps = _answer(points, stat["Stat"], int(stat["Period"]), start, end)
            if kw.get("scan_by", "TimestampAscending") == "TimestampDescending":
                values.reverse()
                stamps.reverse()
            result["values"], result["timestamps"] = values, stamps
        return results

    setattr(get_metric_data, _MARKER, True)
    return get_metric_data


def install() -> bool:
    """Patch moto's GetMetricData as described above; idempotent. False when moto is not installed."""
    try:
        from moto.cloudwatch.models import CloudWatchBackend
    except ImportError:
        return False
    with _lock:
        current = CloudWatchBackend.get_metric_data
        if not getattr(current, _MARKER, False):
            setattr(CloudWatchBackend, "get_metric_data", _with_series(current))  # noqa: B010 - a patch
    return True
