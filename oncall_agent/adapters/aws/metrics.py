"""CloudWatch GetMetricData adapter (ports.MetricBatchReader): one metric at exactly the statistic its alarm uses,
many series in batches of at most 500 queries per request (the neighbourhood's golden signals), and ListMetrics.

The statistic is passed through unchanged (`Sum`, `Average`, `p99`, `p99.9`, ...): a p99 alarm judged from an
Average series would point the investigation at the wrong moment. Requests are aligned to period boundaries
(CloudWatch buckets data on them; an unaligned StartTime shifts every bucket) and read page by page.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from oncall_agent.domain.alarm import MetricSpec
from oncall_agent.domain.errors import SourceError
from oncall_agent.domain.records import MetricBatch, MetricListing, MetricQuery, MetricSeries
from oncall_agent.domain.time import as_utc

QUERY_ID = "m0"
MAX_POINTS_PER_PAGE = 100_800  # GetMetricData MaxDatapoints upper bound
MAX_QUERIES_PER_CALL = 500  # GetMetricData's limit on MetricDataQueries per request
RECENTLY_ACTIVE = "PT3H"  # ListMetrics: only metrics with data in the last three hours
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class MetricReadError(SourceError):
    """GetMetricData answered, but its query failed (status InternalError or Forbidden)."""


def aligned_window(start: datetime, end: datetime, period: int) -> tuple[datetime, datetime]:
    """[start, end) widened to whole periods: start rounded down, end rounded up to a period boundary."""
    first = math.floor((as_utc(start) - _EPOCH).total_seconds() / period) * period
    last = math.ceil((as_utc(end) - _EPOCH).total_seconds() / period) * period
    if last <= first:
        last = first + period
    return _EPOCH + timedelta(seconds=first), _EPOCH + timedelta(seconds=last)


def metric_stat_query(metric: MetricSpec, stat: str, period: int) -> dict[str, Any]:
    """The one MetricDataQuery for `metric` at `stat` (extended statistics such as p99 go in `Stat` too)."""
    return {
        "Id": QUERY_ID,
        "MetricStat": {
            "Metric": {
                "Namespace": metric.namespace,
                "MetricName": metric.name,
                "Dimensions": [{"Name": name, "Value": value} for name, value in metric.dimensions.items()],
            },
            "Period": period,
            "Stat": stat,
        },
        "ReturnData": True,
    }


def batch_queries(queries: list[MetricQuery], offset: int = 0) -> list[dict[str, Any]]:
    """MetricDataQueries for a batch: ids `q<index>` (index into the caller's list, so answers map back)."""
    bodies = []
    for index, query in enumerate(queries, start=offset):
        body = metric_stat_query(query.metric, query.stat, query.period)
        bodies.append({**body, "Id": f"q{index}"})
    return bodies


def _spec(item: dict[str, Any]) -> MetricSpec:
    dims = {d["Name"]: d["Value"] for d in item.get("Dimensions") or [] if "Name" in d and "Value" in d}
    return MetricSpec(namespace=item.get("Namespace", ""), name=item.get("MetricName", ""), dimensions=dims)


class CloudWatchMetricReader:
    """Reads metric series with the `get_metric_data` paginator.

    `client_for_region` builds a CloudWatch client; one per region is built lazily and kept (clients are
    thread-safe, building them is not cheap).
    """

    def __init__(self, client_for_region: Callable[[str], Any]) -> None:
        self._client_for_region = client_for_region
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _client(self, region: str) -> Any:
        with self._lock:
            if region not in self._clients:
                self._clients[region] = self._client_for_region(region)
            return self._clients[region]

    def get_series(
        self, region: str, metric: MetricSpec, stat: str, period: int, start: datetime, end: datetime
    ) -> MetricSeries:
        """One point per period that has data, oldest first. SDK errors propagate; a query-level error status
        raises MetricReadError."""
        if period < 1:
            raise ValueError(f"period must be at least 1 second, got {period}")
        if not stat:
            raise ValueError("stat must name the alarm's statistic")
        first, last = aligned_window(start, end, period)
        paginator = self._client(region).get_paginator("get_metric_data")
        pages = paginator.paginate(
            MetricDataQueries=[metric_stat_query(metric, stat, period)],
            StartTime=first,
            EndTime=last,
            ScanBy="TimestampAscending",
            PaginationConfig={"PageSize": MAX_POINTS_PER_PAGE},
        )
        points: dict[datetime, float] = {}
        for page in pages:
            for result in page.get("MetricDataResults") or []:
                if result.get("Id") == QUERY_ID:
                    _check_status(result, metric, stat)
                    for at, value in zip(result.get("Timestamps") or [], result.get("Values") or [], strict=False):
                        points[as_utc(at)] = float(value)
        return MetricSeries(metric=metric, stat=stat, period=period, points=sorted(points.items()))

    def get_many(self, region: str, queries: list[MetricQuery], start: datetime, end: datetime) -> MetricBatch:
        return read_batch(self._client(region), queries, start, end)

    def list_metrics(self, region: str, namespace: str, max_pages: int) -> MetricListing:
        return list_namespace(self._client(region), namespace, max_pages)


def _describe(metric: MetricSpec, stat: str) -> str:
    return f"{metric.namespace}/{metric.name} {stat}"


def _check_status(result: dict[str, Any], metric: MetricSpec, stat: str) -> None:
    # Complete and PartialData (more pages follow) carry values; InternalError and Forbidden do not.
    status = result.get("StatusCode", "Complete")
    if status not in ("Complete", "PartialData"):
        detail = "; ".join(str(m.get("Value", m)) for m in result.get("Messages") or [])
        raise MetricReadError(f"GetMetricData {_describe(metric, stat)}: status {status} {detail}".strip())


def _batch_page(
    client: Any, queries: list[MetricQuery], offset: int, first: datetime, last: datetime
) -> tuple[dict[int, dict[datetime, float]], dict[int, str]]:
    points: dict[int, dict[datetime, float]] = {}
    failed: dict[int, str] = {}
    pages = client.get_paginator("get_metric_data").paginate(
        MetricDataQueries=batch_queries(queries, offset),
        StartTime=first,
        EndTime=last,
        ScanBy="TimestampAscending",
        PaginationConfig={"PageSize": MAX_POINTS_PER_PAGE},
    )
    for page in pages:
        for result in page.get("MetricDataResults") or []:
            index = int(str(result.get("Id", "q-1"))[1:])
            status = result.get("StatusCode", "Complete")
            if status not in ("Complete", "PartialData"):
                failed[index] = f"status {status}"
                continue
            series = points.setdefault(index, {})
            for at, value in zip(result.get("Timestamps") or [], result.get("Values") or [], strict=False):
                series[as_utc(at)] = float(value)
    return points, failed


def read_batch(client: Any, queries: list[MetricQuery], start: datetime, end: datetime) -> MetricBatch:
    """Every query's series, MAX_QUERIES_PER_CALL per request; all queries of a batch share one period grid
    (the longest period among them) for the window's alignment."""
    if not queries:
        return MetricBatch()
    first, last = aligned_window(start, end, max(q.period for q in queries))
    points: dict[int, dict[datetime, float]] = {}
    failed: dict[int, str] = {}
    for offset in range(0, len(queries), MAX_QUERIES_PER_CALL):
        chunk = queries[offset : offset + MAX_QUERIES_PER_CALL]
        found, bad = _batch_page(client, chunk, offset, first, last)
        points.update(found)
        failed.update(bad)
    series = [
        MetricSeries(metric=q.metric, stat=q.stat, period=q.period, points=sorted(points.get(i, {}).items()))
        for i, q in enumerate(queries)
    ]
    return MetricBatch(series=series, failed=failed)


def list_namespace(client: Any, namespace: str, max_pages: int) -> MetricListing:
    """ListMetrics for one namespace, recently active metrics only, at most `max_pages` pages."""
    metrics: list[MetricSpec] = []
    token: str | None = None
    for _ in range(max_pages):
        request: dict[str, Any] = {"Namespace": namespace, "RecentlyActive": RECENTLY_ACTIVE}
        if token:
            request["NextToken"] = token
        answer = client.list_metrics(**request)
        metrics += [_spec(item) for item in answer.get("Metrics") or []]
        token = answer.get("NextToken")
        if not token:
            return MetricListing(metrics=metrics)
    return MetricListing(metrics=metrics, truncated=True)
