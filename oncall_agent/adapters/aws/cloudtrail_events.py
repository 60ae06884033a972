"""CloudTrail LookupEvents, read the way both CloudTrail adapters need it: one lookup attribute, all pages up
to a cap, each item with its CloudTrail record (the `CloudTrailEvent` JSON string) decoded; and the rule that
tells a deploy event from a configuration change.

LookupEvents takes exactly one lookup attribute, answers at most 50 events a page, allows 2 TPS, and events
arrive about five minutes late (DESIGN §9): lookups are capped and "nothing found" is not proof of no change.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from oncall_agent.domain.budget import CallBudgetExceeded
from oncall_agent.domain.time import as_utc

ECS_DEPLOY_EVENT = "UpdateService"
LAMBDA_DEPLOY_EVENT = "UpdateAlias20150331"  # Lambda's CloudTrail event names carry the API version
CODEDEPLOY_DEPLOY_EVENT = "CreateDeployment"
PIPELINE_EVENTS = frozenset({"RegisterTaskDefinition", "PublishVersion20150331"})
"""Writes a deploy pipeline makes before the deploy itself; they change nothing running on their own."""
PAGE_SIZE = 50  # LookupEvents MaxResults upper bound
DEFAULT_MAX_EVENTS = 500

ClientFactory = Callable[[str], Any]


@dataclass(frozen=True)
class TrailEvent:
    """One LookupEvents item (untrusted data) with its CloudTrail record decoded."""

    event_id: str
    name: str
    source: str
    at: datetime
    username: str | None
    resources: list[dict[str, str]]
    record: dict[str, Any]

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> TrailEvent:
        try:
            record = json.loads(item.get("CloudTrailEvent") or "{}")
        except ValueError:
            record = {}
        return cls(
            event_id=str(item.get("EventId", "")),
            name=str(item.get("EventName", "")),
            source=str(item.get("EventSource", "")),
            at=as_utc(item["EventTime"]),
            username=item.get("Username"),
            resources=[r for r in item.get("Resources") or [] if isinstance(r, dict)],
            record=record if isinstance(record, dict) else {},
        )

    @property
    def request(self) -> dict[str, Any]:
        value = self.record.get("requestParameters")
        return value if isinstance(value, dict) else {}

    @property
    def response(self) -> dict[str, Any]:
        value = self.record.get("responseElements")
        return value if isinstance(value, dict) else {}

    @property
    def failed(self) -> bool:
        """The call was refused (`errorCode`): it changed nothing."""
        return bool(self.record.get("errorCode"))

    def resource(self, kind: str) -> str | None:
        """The first resource of CloudTrail ResourceType `kind` (e.g. `AWS::ECS::Service`), if listed."""
        return next((r.get("ResourceName") for r in self.resources if r.get("ResourceType") == kind), None)


def is_deploy(event: TrailEvent) -> bool:
    """An ECS UpdateService that sets a task definition (one that only sets `desiredCount` is a scaling
    change), a Lambda alias update, or a CodeDeploy deployment."""
    if event.name == ECS_DEPLOY_EVENT:
        return bool(event.request.get("taskDefinition"))
    return event.name in (LAMBDA_DEPLOY_EVENT, CODEDEPLOY_DEPLOY_EVENT)


def console_link(region: str, event_id: str) -> str:
    return f"https://{region}.console.aws.amazon.com/cloudtrailv2/home?region={region}#/events/{event_id}"


def lookup_events(
    client: Any, key: str, value: str, start: datetime, end: datetime, max_events: int = DEFAULT_MAX_EVENTS
) -> list[TrailEvent]:
    """Events whose `key` attribute is `value` in [start, end], newest first as CloudTrail pages them; at
    most `max_events` (the newest). SDK errors propagate. When the API-call budget runs out after the first
    page, the newest events read so far are returned (the budget's meter records the cut)."""
    paginator = client.get_paginator("lookup_events")
    pages = paginator.paginate(
        LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}],
        StartTime=as_utc(start),
        EndTime=as_utc(end),
        PaginationConfig={"PageSize": PAGE_SIZE, "MaxItems": max_events},
    )
    events: list[TrailEvent] = []
    try:
        for page in pages:
            events += [TrailEvent.from_item(item) for item in page.get("Events") or []]
    except CallBudgetExceeded:
        if not events:
            raise
    return events


class RegionClients:
    """One client per (service, region) from the factories given, built lazily and kept (clients are
    thread-safe; building them is not cheap). A factory may be None: that service is not used."""

    def __init__(self, factories: dict[str, ClientFactory | None]) -> None:
        self._factories = factories
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def get(self, service: str, region: str) -> Any:
        """The client, or None when no factory was given for `service`."""
        factory = self._factories.get(service)
        if factory is None:
            return None
        with self._lock:
            if (service, region) not in self._clients:
                self._clients[service, region] = factory(region)
            return self._clients[service, region]
