"""The grouping job: binds the pure rule (`domain.grouping.decide`) to the service catalog, a window and the gate
for old SNS notifications, and lets the store apply it to the events waiting to be grouped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from oncall_agent.domain.alarm import AlarmEvent
from oncall_agent.domain.catalog import Service, service_for_alarm
from oncall_agent.domain.grouping import GroupingDecision, GroupingOutcome, OpenIncidentView, decide
from oncall_agent.intake.old_events import OldEventGate
from oncall_agent.ports import GroupedEvent, IncidentStore

_OPENS = frozenset({GroupingOutcome.CREATE, GroupingOutcome.JOIN})


class Grouper:
    """Groups pending alarm events into incidents; run it periodically (it is safe on several replicas)."""

    def __init__(
        self,
        store: IncidentStore,
        catalog: Sequence[Service],
        window: timedelta,
        old_events: OldEventGate | None = None,
    ) -> None:
        if window < timedelta(0):
            raise ValueError("grouping window must not be negative")
        self._store = store
        self._catalog = list(catalog)
        self._window = window
        self._old_events = old_events

    def rule(self, event: AlarmEvent, incidents: list[OpenIncidentView]) -> GroupingDecision:
        decision = decide(event, service_for_alarm(event, self._catalog), incidents, self._window)
        # Only what would open or reopen an incident is checked: recording an old event, or an old recovery in
        # an incident that is open anyway, does no harm.
        if decision.outcome in _OPENS and self._old_events is not None and not self._old_events.allows(event):
            return GroupingDecision(GroupingOutcome.OUTDATED, None, decision.service, decision.fingerprint)
        return decision

    def run_once(self, limit: int = 100) -> list[GroupedEvent]:
        """Group up to `limit` pending events (oldest first) and return what was decided for each."""
        if self._old_events is not None:  # its AWS calls are made here, outside the grouping transactions
            self._old_events.prefetch(self._store.pending_events(limit))
        return self._store.group_pending(self.rule, limit)
