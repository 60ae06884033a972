"""CloudWatch DescribeAlarms adapter (ports.AlarmSource): every metric and composite alarm of a region, all
pages, as the raw items boto3 returns."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

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
        client = self._client(region)
        paginator = client.get_paginator("describe_alarms")
        pages = paginator.paginate(AlarmTypes=ALARM_TYPES, PaginationConfig={"PageSize": self._page_size})
        for page in pages:
            for key in ("MetricAlarms", "CompositeAlarms"):
                for item in page.get(key) or []:
                    yield self._with_tags_added(client, item) if self._with_tags else item

    @staticmethod
    def _with_tags_added(client: Any, item: dict[str, Any]) -> dict[str, Any]:
        arn = item.get("AlarmArn")
        if not isinstance(arn, str):
            return item  # the parser rejects an item without an ARN; no call to make for it
        response = client.list_tags_for_resource(ResourceARN=arn)
        return {**item, "Tags": response.get("Tags") or []}
