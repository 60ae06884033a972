"""The grouping job: binds the pure rule (`domain.grouping.decide`) to the service catalog and a window, and
lets the store apply it to the events waiting to be grouped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from oncall_agent.domain.alarm import AlarmEvent
from oncall_agent.domain.catalog import Service, service_for_alarm
from oncall_agent.domain.grouping import GroupingDecision, OpenIncidentView, decide
from oncall_agent.ports import GroupedEvent, IncidentStore


class Grouper:
    """Groups pending alarm events into incidents; run it periodically (it is safe on several replicas)."""

    def __init__(self, store: IncidentStore, catalog: Sequence[Service], window: timedelta) -> None:
        if window < timedelta(0):
            raise ValueError("grouping window must not be negative")
        self._store = store
        self._catalog = list(catalog)
        self._window = window

    def rule(self, event: AlarmEvent, incidents: list[OpenIncidentView]) -> GroupingDecision:
        return decide(event, service_for_alarm(event, self._catalog), incidents, self._window)

    def run_once(self, limit: int = 100) -> list[GroupedEvent]:
        """Group up to `limit` pending events (oldest first) and return what was decided for each."""
        return self._store.group_pending(self.rule, limit)
