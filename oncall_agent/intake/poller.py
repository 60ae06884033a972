"""The DescribeAlarms poller: turns alarm state transitions into AlarmEvents.

It relies on the cross-channel dedup key (alarm ARN, state, state-change time) so a transition that SNS or
EventBridge already delivered is recorded once. An in-memory map of the last state key per alarm spares the
store a write for every unchanged alarm on every poll; after a restart the store's unique keys still hold.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from oncall_agent.domain.alarm import AlarmEvent, AlarmState
from oncall_agent.domain.errors import PayloadError
from oncall_agent.intake.parsers import parse_describe_alarms_item
from oncall_agent.observability import get_logger
from oncall_agent.ports import AlarmSource, IncidentStore

log = get_logger(__name__)


@dataclass
class PollResult:
    seen: int = 0
    stored: int = 0
    duplicates: int = 0
    failed_regions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AlarmFilter:
    """Client-side filters: DescribeAlarms cannot combine name prefix and state (and moto ignores some)."""

    name_prefixes: tuple[str, ...] = ()
    states: frozenset[AlarmState] = frozenset(AlarmState)

    def admits(self, event: AlarmEvent) -> bool:
        if event.new_state not in self.states:
            return False
        if not self.name_prefixes:
            return True
        return any(
            event.alarm_name.startswith(p) or fnmatch.fnmatchcase(event.alarm_name, p) for p in self.name_prefixes
        )


class AlarmPoller:
    def __init__(
        self,
        source: AlarmSource,
        store: IncidentStore,
        regions: Iterable[str],
        alarm_filter: AlarmFilter,
        on_stored: Callable[[], None] = lambda: None,
    ) -> None:
        self._source = source
        self._store = store
        self._regions = list(regions)
        self._filter = alarm_filter
        self._on_stored = on_stored
        self._last_key: dict[str, str] = {}

    def poll_once(self) -> PollResult:
        """One pass over every configured region; a failing region is logged and skipped, not fatal."""
        result = PollResult()
        for region in self._regions:
            try:
                self._poll_region(region, result)
            except Exception as exc:  # noqa: BLE001 - one broken region (or SDK error) must not stop the others
                result.failed_regions.append(region)
                log.warning("poll_region_failed", region=region, error=f"{type(exc).__name__}: {exc}")
        if result.stored:
            self._on_stored()
        return result

    def _poll_region(self, region: str, result: PollResult) -> None:
        for item in self._source.describe_alarms(region):
            try:
                event = parse_describe_alarms_item(item, region=region)
            except PayloadError as exc:
                log.warning("poll_item_unparsable", region=region, error=str(exc))
                continue
            result.seen += 1
            if not self._filter.admits(event):
                continue
            key = event.state_key()
            if self._last_key.get(event.alarm_arn) == key:
                continue
            appended = self._store.append_event(event)
            self._last_key[event.alarm_arn] = key
            if appended.duplicate:
                result.duplicates += 1
            else:
                result.stored += 1
