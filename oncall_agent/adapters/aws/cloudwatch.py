"""CloudWatch DescribeAlarms adapter: every metric and composite alarm of a region, all pages, as the raw items
boto3 returns (ports.AlarmSource), and the current state of alarms as AlarmSnapshots (ports.AlarmStates)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from oncall_agent.domain.alarm import AlarmState, MetricSpec
from oncall_agent.domain.budget import CallBudgetExceeded
from oncall_agent.domain.records import AlarmSnapshot
from oncall_agent.domain.time import as_utc

ALARM_TYPES = ["MetricAlarm", "CompositeAlarm"]
MAX_PAGE_SIZE = 100  # DescribeAlarms MaxRecords upper bound


class CloudWatchAlarmSource:
    """Reads alarms with the `describe_alarms` paginator.

    `client_for_region` builds a CloudWatch client (endpoint, credentials and retry config are its business);
    one client per region is built lazily and kept. With `with_tags`, each item gets a `Tags` list
    ([{Key, Value}]) from ListTagsForResource: one extra call per alarm, so it is off by default.
    """

    def __init__(
        self,
        client_for_region: Callable[[str], Any],
        *,
        with_tags: bool = False,
        page_size: int = MAX_PAGE_SIZE,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}, got {page_size}")
        self._client_for_region = client_for_region
        self._with_tags = with_tags
        self._page_size = page_size
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _client(self, region: str) -> Any:
        with self._lock:
            client = self._clients.get(region)
            if client is None:
                client = self._client_for_region(region)
                self._clients[region] = client
            return client

    def describe_alarms(self, region: str) -> Iterator[dict[str, Any]]:
        """Metric then composite alarms (these carry `AlarmRule`), page by page. SDK errors propagate."""
        yield from self._items(self._client(region))

    def snapshots(self, region: str, names: list[str] | None = None) -> list[AlarmSnapshot]:
        """The current state of the named alarms (every alarm when `names` is None); names CloudWatch does not
        know are left out. Tags are filled only `with_tags`. SDK errors propagate."""
        client = self._client(region)
        if names is None:
            queries: list[dict[str, Any]] = [{}]
        else:
            wanted = list(dict.fromkeys(names))  # never an empty AlarmNames: that would mean every alarm
            queries = [
                {"AlarmNames": wanted[first : first + MAX_PAGE_SIZE]} for first in range(0, len(wanted), MAX_PAGE_SIZE)
            ]
        items = self._within_budget(client, queries)
        return [snapshot for item in items if (snapshot := alarm_snapshot(item)) is not None]

    def _within_budget(self, client: Any, queries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Items of every query, tagged. Under an API-call budget (domain.budget) a cut keeps what was read: the
        pages first, then tags, one call per alarm - alarms in ALARM and the most recently changed first, so the
        alarms that matter most are the ones related to their service."""
        items: list[dict[str, Any]] = []
        try:
            for filters in queries:
                for item in self._raw(client, **filters):
                    items.append(item)
        except CallBudgetExceeded:
            if not items:
                raise
        if not self._with_tags:
            return items
        tagged = list(items)
        for index in sorted(range(len(items)), key=lambda i: _tag_priority(items[i])):
            try:
                tagged[index] = self._with_tags_added(client, items[index])
            except CallBudgetExceeded:
                break
        return tagged

    def _items(self, client: Any, **filters: Any) -> Iterator[dict[str, Any]]:
        for item in self._raw(client, **filters):
            yield self._with_tags_added(client, item) if self._with_tags else item

    def _raw(self, client: Any, **filters: Any) -> Iterator[dict[str, Any]]:
        paginator = client.get_paginator("describe_alarms")
        config = {"PageSize": self._page_size}
        for page in paginator.paginate(AlarmTypes=ALARM_TYPES, PaginationConfig=config, **filters):
            for key in ("MetricAlarms", "CompositeAlarms"):
                yield from page.get(key) or []

    @staticmethod
    def _with_tags_added(client: Any, item: dict[str, Any]) -> dict[str, Any]:
        arn = item.get("AlarmArn")
        if not isinstance(arn, str):
            return item  # the parser rejects an item without an ARN; no call to make for it
        response = client.list_tags_for_resource(ResourceARN=arn)
        return {**item, "Tags": response.get("Tags") or []}


def _tag_priority(item: dict[str, Any]) -> tuple[bool, float]:
    changed = item.get("StateUpdatedTimestamp")
    return item.get("StateValue") != "ALARM", -(changed.timestamp() if isinstance(changed, datetime) else 0.0)


def _metric_of(item: dict[str, Any]) -> MetricSpec | None:
    """The metric a metric alarm watches; for metric math, the first metric the expression reads."""
    if item.get("MetricName"):
        stat = item.get("Statistic") or item.get("ExtendedStatistic")
        dimensions = {d["Name"]: d["Value"] for d in item.get("Dimensions") or []}
        return MetricSpec(
            namespace=item.get("Namespace", ""),
            name=item["MetricName"],
            dimensions=dimensions,
            stat=stat,
            period=item.get("Period"),
        )
    for query in item.get("Metrics") or []:
        stat = query.get("MetricStat")
        if stat:
            metric = stat.get("Metric") or {}
            return MetricSpec(
                namespace=metric.get("Namespace", ""),
                name=metric.get("MetricName", ""),
                dimensions={d["Name"]: d["Value"] for d in metric.get("Dimensions") or []},
                stat=stat.get("Stat"),
                period=stat.get("Period"),
            )
    return None


def alarm_snapshot(item: dict[str, Any]) -> AlarmSnapshot | None:
    """A DescribeAlarms item as an AlarmSnapshot, or None when it lacks a name, ARN, known state or timestamp."""
    try:
        state = AlarmState(str(item.get("StateValue")))
    except ValueError:
        return None
    since = item.get("StateUpdatedTimestamp") or item.get("StateTransitionedTimestamp")
    if not item.get("AlarmName") or not item.get("AlarmArn") or since is None:
        return None
    return AlarmSnapshot(
        name=item["AlarmName"],
        arn=item["AlarmArn"],
        state=state,
        since=as_utc(since),
        metric=_metric_of(item),
        tags={t["Key"]: t["Value"] for t in item.get("Tags") or [] if "Key" in t and "Value" in t},
        description=str(item.get("AlarmDescription") or "")[:1024],
    )
