"""AWS event feeds adapter (ports.AwsEventFeed): RDS DescribeEvents, AWS Health DescribeEvents with
DescribeEventDetails and DescribeAffectedEntities, an ECS service's `events` and its stopped tasks (ListTasks
STOPPED + DescribeTasks: stopped reason and exit codes).

Each feed is read for the investigation window and filtered again on the client (some servers ignore the time
parameters). Health is a global API answered from us-east-1; its events are kept for the investigated region
and `global`. Page counts are bounded: these are context, not an archive.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from oncall_agent.domain.errors import SourceError
from oncall_agent.domain.records import AwsEventRecord, AwsEventSource
from oncall_agent.domain.time import as_utc

MAX_PAGES = 3
HEALTH_REGION = "us-east-1"
HEALTH_LOOKBACK = timedelta(days=1)  # an event that started before the window and is still open matters
HEALTH_BATCH = 10  # DescribeEventDetails / DescribeAffectedEntities take at most 10 event ARNs
MAX_STOPPED_TASKS = 100  # DescribeTasks takes at most 100 tasks


def _within(moment: Any, start: datetime, end: datetime) -> bool:
    return isinstance(moment, datetime) and start <= as_utc(moment) <= end


class HealthNotConfigured(SourceError):
    """No AWS Health endpoint is configured (a sandbox without a Health stand-in)."""


class AwsEventReader:
    """`clients` maps `rds`, `health`, `ecs` to a function building that API's client for a region; without
    `health`, health_events raises HealthNotConfigured (the source records a gap)."""

    def __init__(self, clients: dict[str, Callable[[str], Any]]) -> None:
        self._factories = clients
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def _client(self, api: str, region: str) -> Any:
        with self._lock:
            if (api, region) not in self._clients:
                self._clients[(api, region)] = self._factories[api](region)
            return self._clients[(api, region)]

    def rds_events(self, region: str, start: datetime, end: datetime) -> list[AwsEventRecord]:
        client = self._client("rds", region)
        request: dict[str, Any] = {"StartTime": start, "EndTime": end, "MaxRecords": 100}
        found: list[AwsEventRecord] = []
        for _ in range(MAX_PAGES):
            answer = client.describe_events(**request)
            found += [_rds_record(item) for item in answer.get("Events") or [] if _within(item.get("Date"), start, end)]
            if not answer.get("Marker"):
                break
            request["Marker"] = answer["Marker"]
        return found

    def health_events(self, region: str, start: datetime, end: datetime) -> list[AwsEventRecord]:
        if "health" not in self._factories:
            raise HealthNotConfigured("no AWS Health endpoint configured")
        client = self._client("health", HEALTH_REGION)
        regions = [region, "global"]
        # Events that started in the window (and the day before), and every event still open however old: an
        # expiry notice sent weeks ahead is still open when the certificate expires.
        recent = {"regions": regions, "startTimes": [{"from": start - HEALTH_LOOKBACK, "to": end}]}
        found: dict[str, dict[str, Any]] = {}
        for flt in (recent, {"regions": regions, "eventStatusCodes": ["open"]}):
            for event in _health_pages(client, flt):
                if not _ended_before(event, start) and _started(event) <= as_utc(end):
                    found.setdefault(event["arn"], event)
        events = list(found.values())
        arns = [e["arn"] for e in events]
        texts, entities = _health_details(client, arns), _health_entities(client, arns)
        return [_health_record(e, texts.get(e["arn"], ""), entities.get(e["arn"], [])) for e in events]

    def ecs_events(
        self, region: str, cluster: str, service: str, start: datetime, end: datetime
    ) -> list[AwsEventRecord]:
        client = self._client("ecs", region)
        answer = client.describe_services(cluster=cluster, services=[service])
        found = [
            AwsEventRecord(
                source=AwsEventSource.ECS,
                at=as_utc(item["createdAt"]),
                resource=service,
                message=str(item.get("message", ""))[:1000],
                details={"cluster": cluster, "id": item.get("id")},
            )
            for svc in answer.get("services") or []
            for item in svc.get("events") or []
            if _within(item.get("createdAt"), start, end)
        ]
        arns = (
            client.list_tasks(
                cluster=cluster, serviceName=service, desiredStatus="STOPPED", maxResults=MAX_STOPPED_TASKS
            ).get("taskArns")
            or []
        )
        if arns:
            tasks = client.describe_tasks(cluster=cluster, tasks=arns[:MAX_STOPPED_TASKS]).get("tasks") or []
            mine = [t for t in tasks if t.get("group") in (None, f"service:{service}")]
            found += [
                _task_record(t, cluster, service, end)
                for t in mine
                if _stopped_at(t) is None or _within(_stopped_at(t), start, end)
            ]
        return found


def _rds_record(item: dict[str, Any]) -> AwsEventRecord:
    return AwsEventRecord(
        source=AwsEventSource.RDS,
        at=as_utc(item["Date"]),
        resource=str(item.get("SourceIdentifier", "")),
        message=str(item.get("Message", ""))[:1000],
        details={"source_type": item.get("SourceType"), "categories": list(item.get("EventCategories") or [])},
        link=item.get("SourceArn"),
    )


def _ended_before(event: dict[str, Any], start: datetime) -> bool:
    ended = event.get("endTime")
    return isinstance(ended, datetime) and as_utc(ended) < start


def _health_pages(client: Any, flt: dict[str, Any]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    request: dict[str, Any] = {"filter": flt, "maxResults": 100}
    for _ in range(MAX_PAGES):
        answer = client.describe_events(**request)
        events += answer.get("events") or []
        if not answer.get("nextToken"):
            break
        request["nextToken"] = answer["nextToken"]
    return events


def _started(event: dict[str, Any]) -> datetime:
    """When an event started; one with no start time counts as started long ago (it is kept)."""
    value = event.get("startTime")
    return as_utc(value) if isinstance(value, datetime) else datetime.min.replace(tzinfo=UTC)


def _health_details(client: Any, arns: list[str]) -> dict[str, str]:
    texts: dict[str, str] = {}
    for index in range(0, len(arns), HEALTH_BATCH):
        answer = client.describe_event_details(eventArns=arns[index : index + HEALTH_BATCH])
        for item in answer.get("successfulSet") or []:
            description = (item.get("eventDescription") or {}).get("latestDescription", "")
            texts[item["event"]["arn"]] = str(description)[:1000]
    return texts


def _health_entities(client: Any, arns: list[str]) -> dict[str, list[str]]:
    entities: dict[str, list[str]] = {}
    for index in range(0, len(arns), HEALTH_BATCH):
        answer = client.describe_affected_entities(filter={"eventArns": arns[index : index + HEALTH_BATCH]})
        for item in answer.get("entities") or []:
            if item.get("entityValue"):
                entities.setdefault(item["eventArn"], []).append(str(item["entityValue"]))
    return entities


def _health_record(event: dict[str, Any], text: str, entities: list[str]) -> AwsEventRecord:
    ended = event.get("endTime")
    details = {
        "service": event.get("service"),
        "type": event.get("eventTypeCode"),
        "category": event.get("eventTypeCategory"),
        "status": event.get("statusCode"),
        "region": event.get("region"),
        "availability_zone": event.get("availabilityZone"),
        "end": as_utc(ended).isoformat() if isinstance(ended, datetime) else None,
    }
    return AwsEventRecord(
        source=AwsEventSource.HEALTH,
        at=as_utc(event["startTime"]),
        resource=entities[0] if entities else str(event.get("service") or "aws"),
        message=text or str(event.get("eventTypeCode", "")),
        resources=entities,
        details=details,
        link=event.get("arn"),
    )


def _stopped_at(task: dict[str, Any]) -> Any:
    # A task still stopping has no stoppedAt yet; its creation is the best time left.
    return task.get("stoppedAt") or task.get("stoppingAt") or task.get("createdAt")


def _task_record(task: dict[str, Any], cluster: str, service: str, listed: datetime) -> AwsEventRecord:
    """A stopped task; one reported without any time (some servers) is placed when it was listed."""
    at = _stopped_at(task)
    containers = task.get("containers") or []
    codes = {c.get("name", "?"): c["exitCode"] for c in containers if c.get("exitCode") is not None}
    reasons = [str(c["reason"]) for c in containers if c.get("reason")]
    stopped = str(task.get("stoppedReason") or "")
    return AwsEventRecord(
        source=AwsEventSource.ECS_TASK,
        at=as_utc(at) if isinstance(at, datetime) else listed,
        resource=service,
        message="; ".join([stopped, *reasons])[:1000] or "task stopped",
        details={
            "cluster": cluster,
            "stopped_reason": stopped,
            "stop_code": task.get("stopCode"),
            "exit_codes": codes,
            "task_definition": task.get("taskDefinitionArn"),
            "availability_zone": task.get("availabilityZone"),
            "task": task.get("taskArn"),
            "time_unknown": not isinstance(at, datetime),
        },
    )
