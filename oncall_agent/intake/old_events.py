"""The gate for old SNS notifications: a validly signed message about a state change older than the maximum age
(a replay of a captured message, or a delivery that waited in a queue) opens or reopens an incident only when
DescribeAlarms confirms the alarm is still in that state. The event itself stays stored either way; each verdict
is logged and counted.

DescribeAlarms is asked before grouping starts (`prefetch`, one call per region for the batch) and not inside
the grouping transaction, which holds the store's write lock; an event that arrived after the prefetch is checked
when it is decided.

Only SNS is gated: the poller reads the current state, so an old timestamp from it is an alarm that has been in
its state for long (legitimate), and EventBridge deliveries carry a shared secret rather than a replayable
signature.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum

from oncall_agent.domain.alarm import AlarmEvent, AlarmState, EventChannel
from oncall_agent.domain.records import AlarmSnapshot
from oncall_agent.domain.time import as_utc
from oncall_agent.observability import get_logger
from oncall_agent.ports import AlarmStates

log = get_logger(__name__)


class OldEventVerdict(StrEnum):
    CONFIRMED = "confirmed"  # DescribeAlarms shows the alarm still in the notified state: the event counts
    NOT_IN_STATE = "not_in_state"  # the alarm is in another state now: no incident
    ALARM_GONE = "alarm_gone"  # DescribeAlarms does not know the alarm (deleted, other region): no incident
    CHECK_FAILED = "check_failed"  # DescribeAlarms failed: no incident (the poller still sees a live alarm)


class OldEventGate:
    """Decides whether an event may open or reopen an incident; `count(verdict)` is told every verdict."""

    def __init__(
        self,
        alarms: AlarmStates,
        max_age: timedelta,
        now: Callable[[], datetime],
        count: Callable[[str], None] = lambda _verdict: None,
    ) -> None:
        if max_age <= timedelta(0):
            raise ValueError("max_event_age must be positive")
        self._alarms = alarms
        self._max_age = max_age
        self._now = now
        self._count = count
        self._known: dict[str, tuple[OldEventVerdict, str]] = {}  # by alarm ARN + state: the last prefetch

    def prefetch(self, events: list[AlarmEvent]) -> None:
        """Look up, one DescribeAlarms per region, the alarms of the old events grouping is about to decide."""
        # Only an ALARM can open or reopen an incident: other old events need no lookup.
        old = [event for event in events if event.new_state is AlarmState.ALARM and self.is_old(event)]
        self._known = {}
        for region in sorted({event.region for event in old}):
            self._known.update(self._verdicts(region, [event for event in old if event.region == region]))

    def is_old(self, event: AlarmEvent) -> bool:
        return event.channel is EventChannel.SNS and as_utc(self._now()) - as_utc(event.state_timestamp) > self._max_age

    def allows(self, event: AlarmEvent) -> bool:
        """True for a fresh event, or an old one DescribeAlarms confirms; the verdict on an old one is logged."""
        if not self.is_old(event):
            return True
        verdict, current = self._known.get(_key(event)) or self._verdicts(event.region, [event])[_key(event)]
        self._count(verdict.value)
        log.info(
            "old_event_checked",
            alarm=event.alarm_name,
            region=event.region,
            state=event.new_state.value,
            state_changed_at=event.state_timestamp.isoformat(),
            max_age_seconds=self._max_age.total_seconds(),
            verdict=verdict.value,
            current=current,
        )
        return verdict is OldEventVerdict.CONFIRMED

    def _verdicts(self, region: str, batch: list[AlarmEvent]) -> dict[str, tuple[OldEventVerdict, str]]:
        """Verdicts on the events of `batch` (all in `region`) from one DescribeAlarms of their alarms."""
        try:
            found = {s.arn: s for s in self._alarms.snapshots(region, sorted({e.alarm_name for e in batch}))}
        except Exception as exc:  # noqa: BLE001 - whatever the SDK raised, the old events are not confirmed
            failed = (OldEventVerdict.CHECK_FAILED, f"{type(exc).__name__}: {str(exc)[:200]}")
            return {_key(event): failed for event in batch}
        return {_key(event): _verdict(event, found.get(event.alarm_arn)) for event in batch}


def _verdict(event: AlarmEvent, current: AlarmSnapshot | None) -> tuple[OldEventVerdict, str]:
    if current is None:
        return OldEventVerdict.ALARM_GONE, "not found"
    if current.state is not event.new_state:
        return OldEventVerdict.NOT_IN_STATE, current.state.value
    return OldEventVerdict.CONFIRMED, current.state.value


def _key(event: AlarmEvent) -> str:
    return f"{event.alarm_arn}|{event.new_state.value}"
