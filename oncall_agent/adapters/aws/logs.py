"""CloudWatch Logs Insights adapter (ports.LogSearch): a bounded sample of raw lines from log groups.

One query per call, `fields @timestamp, @message, @logStream, @log | sort @timestamp desc | limit N`: the
newest N lines of the window, mined client-side afterwards (drain3). No `filter`/`stats` is relied on (moto
ignores both; server-side stats are an optimisation for later). Polling is bounded by `timeout`; a query still
running then is stopped (it counts against the account's 100 concurrent queries) and an error raised.
Insights is preferred over FilterLogEvents, which is limited to 5 TPS and not meant for automation (DESIGN §9).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from oncall_agent.domain.budget import ScanBudgetExceeded
from oncall_agent.domain.errors import SourceError
from oncall_agent.domain.records import LogRecord, LogSample
from oncall_agent.domain.time import as_utc

MAX_LIMIT = 10_000  # Logs Insights returns at most 10,000 rows
MAX_LOG_GROUPS = 50  # StartQuery accepts at most 50 log groups
FIELDS = ("@timestamp", "@message", "@logStream", "@log")
_DONE = frozenset({"Complete"})
_FAILED = frozenset({"Failed", "Timeout", "Cancelled", "Unknown"})
_ACCOUNT_PREFIX = re.compile(r"^\d{12}:")


class LogSearchError(SourceError):
    """A Logs Insights query could not produce a sample."""


class LogGroupsNotFound(LogSearchError):
    """Some of the log groups asked for do not exist in the region (a catalog or configuration problem)."""

    def __init__(self, region: str, groups: list[str]) -> None:
        super().__init__(f"log group(s) not found in {region}: {', '.join(groups)}")
        self.region = region
        self.groups = groups


class LogQueryFailed(LogSearchError):
    """The query ended Failed, Timeout, Cancelled or Unknown, or did not finish within the adapter's timeout."""


class LogScanBudgetExceeded(LogSearchError, ScanBudgetExceeded):
    """The running query had scanned more bytes than the caller allowed; it was stopped (Insights bills by bytes
    scanned and has no scan limit of its own)."""


def insights_query(limit: int) -> str:
    return f"fields {', '.join(FIELDS)} | sort @timestamp desc | limit {limit}"


def parse_insights_timestamp(value: str) -> datetime:
    """`@timestamp` as AWS returns it (`2026-11-24 23:34:12.878`, UTC) or as moto does (epoch milliseconds)."""
    text = value.strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    pattern = "%Y-%m-%d %H:%M:%S.%f" if "." in text else "%Y-%m-%d %H:%M:%S"
    return datetime.strptime(text, pattern).replace(tzinfo=UTC)


def _group_name(value: str | None, default: str | None) -> str | None:
    # `@log` is `<account id>:<log group>`; for a query over one group it may be left out.
    if not value:
        return default
    return _ACCOUNT_PREFIX.sub("", value, count=1)


def parse_row(row: list[dict[str, str]], default_group: str | None) -> LogRecord | None:
    """One result row as a LogRecord, or None when it lacks a timestamp, a message or a group."""
    fields = {item.get("field"): item.get("value") for item in row}
    stamp, message = fields.get("@timestamp"), fields.get("@message")
    group = _group_name(fields.get("@log"), default_group)
    if not stamp or message is None or group is None:
        return None
    return LogRecord(at=parse_insights_timestamp(stamp), group=group, stream=fields.get("@logStream"), message=message)


class LogsInsightsSearch:
    """Samples log lines with StartQuery + GetQueryResults. `sleep`/`monotonic` are seams for tests."""

    def __init__(
        self,
        client_for_region: Callable[[str], Any],
        poll_interval: float = 0.2,
        timeout: float = 20.0,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if poll_interval <= 0 or timeout <= 0:
            raise ValueError("poll_interval and timeout must be positive")
        self._client_for_region = client_for_region
        self._poll_interval = poll_interval
        self._timeout = timeout
        self._sleep = sleep
        self._monotonic = monotonic
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _client(self, region: str) -> Any:
        with self._lock:
            if region not in self._clients:
                self._clients[region] = self._client_for_region(region)
            return self._clients[region]

    def sample(
        self,
        region: str,
        log_groups: list[str],
        start: datetime,
        end: datetime,
        limit: int,
        max_bytes: float | None = None,
    ) -> LogSample:
        """The newest `limit` (at most 10,000) lines of the groups in [start, end], returned oldest first.

        `truncated` is set when the query hit the limit (the window holds more lines). Raises LogGroupsNotFound
        when a group does not exist, LogQueryFailed when the query fails or outlasts `timeout`,
        LogScanBudgetExceeded when the running query's scanned bytes pass `max_bytes` (it is stopped then).
        """
        groups = list(dict.fromkeys(log_groups))
        if not groups:
            raise ValueError("no log groups to search")
        if len(groups) > MAX_LOG_GROUPS:
            raise ValueError(f"Logs Insights queries at most {MAX_LOG_GROUPS} log groups, got {len(groups)}")
        bounded = max(1, min(limit, MAX_LIMIT))
        client = self._client(region)
        query_id = self._start(client, region, groups, start, end, bounded)
        answer = self._wait(client, query_id, max_bytes)
        default_group = groups[0] if len(groups) == 1 else None
        rows = answer.get("results") or []
        records = [record for row in rows if (record := parse_row(row, default_group)) is not None]
        records.sort(key=lambda record: record.at)
        scanned = float((answer.get("statistics") or {}).get("bytesScanned", 0.0))
        return LogSample(records=records, truncated=len(rows) >= bounded, bytes_scanned=scanned)

    def _start(self, client: Any, region: str, groups: list[str], start: datetime, end: datetime, limit: int) -> str:
        try:
            answer = client.start_query(
                logGroupNames=groups,
                # Whole seconds: the window is widened, never narrowed, so no line at its edges is lost.
                startTime=math.floor(as_utc(start).timestamp()),
                endTime=math.ceil(as_utc(end).timestamp()),
                queryString=insights_query(limit),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                raise LogGroupsNotFound(region, self._missing(client, groups)) from exc
            raise
        return str(answer["queryId"])

    @staticmethod
    def _missing(client: Any, groups: list[str]) -> list[str]:
        """Which groups are missing (only called after StartQuery said some are; best effort)."""
        missing = []
        try:
            for group in groups:
                found = client.describe_log_groups(logGroupNamePrefix=group, limit=50).get("logGroups") or []
                if not any(item.get("logGroupName") == group for item in found):
                    missing.append(group)
        except (BotoCoreError, ClientError):  # the StartQuery error is what matters: name every group
            return groups
        return missing or groups

    def _wait(self, client: Any, query_id: str, max_bytes: float | None) -> dict[str, Any]:
        deadline = self._monotonic() + self._timeout
        while True:
            answer: dict[str, Any] = client.get_query_results(queryId=query_id)
            status = answer.get("status", "Unknown")
            if status in _DONE:
                return answer
            if status in _FAILED:
                raise LogQueryFailed(f"Logs Insights query {query_id} ended {status}")
            scanned = float((answer.get("statistics") or {}).get("bytesScanned", 0.0))
            if max_bytes is not None and scanned > max_bytes:
                self._stop(client, query_id)
                raise LogScanBudgetExceeded(
                    f"Logs Insights query {query_id} stopped: {scanned:,.0f} bytes scanned, budget {max_bytes:,.0f}"
                )
            if self._monotonic() >= deadline:
                self._stop(client, query_id)
                raise LogQueryFailed(f"Logs Insights query {query_id} still {status} after {self._timeout:g}s")
            self._sleep(self._poll_interval)

    @staticmethod
    def _stop(client: Any, query_id: str) -> None:
        try:
            client.stop_query(queryId=query_id)
        except (BotoCoreError, ClientError):  # it may have just finished; the timeout is reported either way
            return
