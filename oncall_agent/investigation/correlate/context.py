"""What the correlator knows about the investigation besides the evidence: the service, the catalog (for the
dependency map), the alarm and the time window. Built once per investigation by the scope step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from oncall_agent.domain.alarm import MetricSpec
from oncall_agent.domain.catalog import Service
from oncall_agent.domain.time import as_utc


def iso(moment: datetime | None) -> str | None:
    """A UTC ISO 8601 string for evidence details (JSON), or None."""
    return as_utc(moment).isoformat() if moment else None


@dataclass(frozen=True)
class CorrelationContext:
    """`onset` is the alarm's state change time; `window_start` the start of the lookback window (the baseline
    for log signatures and metric levels); `now` the end of the window."""

    service: Service
    catalog: list[Service]
    alarm_name: str
    alarm_metric: MetricSpec | None
    onset: datetime
    window_start: datetime
    now: datetime
    alarm_description: str = ""  # the alarm's own description (untrusted): hostnames it checks, for instance

    def minutes_before_onset(self, moment: datetime) -> float:
        """How long before the onset `moment` was (negative: after the onset), in minutes."""
        return round((as_utc(self.onset) - as_utc(moment)).total_seconds() / 60, 2)

    def catalog_entry(self, name: str) -> Service | None:
        return next((entry for entry in self.catalog if entry.name == name), None)

    def dependents(self) -> list[str]:
        """Catalog services that call this one (downstream of it)."""
        return sorted(entry.name for entry in self.catalog if self.service.name in entry.depends_on)
