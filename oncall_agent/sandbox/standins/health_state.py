"""The AWS Health stand-in's state: events of one account and their affected entities, and the filters of
`DescribeEvents` / `DescribeAffectedEntities` / `DescribeEventDetails` applied to them (AWS Health API
2016-08-04). Times are UTC datetimes; the wire format is the app's business (`health`).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from oncall_agent.domain.time import as_utc


@dataclass(frozen=True)
class HealthEventRecord:
    """One Health event as DescribeEvents reports it, plus its description and affected entity values."""

    service: str
    type_code: str
    category: str
    region: str
    start: datetime
    status: str
    description: str
    account: str
    end: datetime | None = None
    availability_zone: str | None = None
    entities: tuple[str, ...] = field(default_factory=tuple)

    @property
    def arn(self) -> str:
        digest = hashlib.sha256(f"{self.type_code}:{self.start.isoformat()}:{self.description}".encode())
        suffix = digest.hexdigest()[:12].upper()
        return f"arn:aws:health:{self.region}::event/{self.service}/{self.type_code}/{self.type_code}_{suffix}"

    @property
    def scope(self) -> str:
        return "ACCOUNT_SPECIFIC" if self.entities else "PUBLIC"

    @property
    def last_updated(self) -> datetime:
        return self.end or self.start


def _in_ranges(moment: datetime | None, ranges: list[dict[str, Any]], parse: Any) -> bool:
    if not ranges:
        return True
    if moment is None:
        return False
    for window in ranges:
        low, high = window.get("from"), window.get("to")
        if (low is None or parse(low) <= moment) and (high is None or moment <= parse(high)):
            return True
    return False


class HealthState:
    """Thread-safe Health events (one account, every region, as the global Health endpoint reports them)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[HealthEventRecord] = []

    def add_event(self, event: HealthEventRecord) -> str:
        stored = HealthEventRecord(
            **{**event.__dict__, "start": as_utc(event.start), "end": as_utc(event.end) if event.end else None}
        )
        with self._lock:
            self._events.append(stored)
        return stored.arn

    def events(self) -> list[HealthEventRecord]:
        """Every event, most recently updated first (DescribeEvents' order)."""
        with self._lock:
            return sorted(self._events, key=lambda e: e.last_updated, reverse=True)

    def matching(self, flt: dict[str, Any], parse: Any) -> list[HealthEventRecord]:
        """Events passing a DescribeEvents `filter` (every given criterion must hold)."""

        def wanted(key: str, value: str | None) -> bool:
            allowed = flt.get(key)
            return not allowed or value in allowed

        found = []
        for event in self.events():
            if not (
                wanted("eventArns", event.arn)
                and wanted("eventTypeCodes", event.type_code)
                and wanted("services", event.service)
                and wanted("regions", event.region)
                and wanted("availabilityZones", event.availability_zone)
                and wanted("eventTypeCategories", event.category)
                and wanted("eventStatusCodes", event.status)
                and _in_ranges(event.start, flt.get("startTimes") or [], parse)
                and _in_ranges(event.end, flt.get("endTimes") or [], parse)
                and _in_ranges(event.last_updated, flt.get("lastUpdatedTimes") or [], parse)
            ):
                continue
            values = set(flt.get("entityValues") or []) | set(flt.get("entityArns") or [])
            if values and not values & set(event.entities):
                continue
            found.append(event)
        return found

    def by_arn(self, arn: str) -> HealthEventRecord | None:
        return next((event for event in self.events() if event.arn == arn), None)
