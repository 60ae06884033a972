"""Evidence sources: a failure or an overrun of a per-source budget (time, API calls, Logs Insights bytes, log
lines) becomes a gap, and never holds up the rest."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from oncall_agent.domain.budget import CallBudgetExceeded, ScanBudgetExceeded, charge
from oncall_agent.domain.catalog import Service
from oncall_agent.domain.evidence import EvidenceKind
from oncall_agent.domain.records import ChangeRecord, LogRecord, LogSample
from oncall_agent.investigation.deps import Deps, Limits
from oncall_agent.investigation.sources import gather_one

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SCOPE = {
    "incident_id": "inc-1",
    "service": "checkout",
    "region": "us-east-1",
    "alarm_name": "checkout-5xx",
    "alarm_names": ["checkout-5xx"],
    "metric": None,
    "onset": NOW.isoformat(),
    "window_start": (NOW - timedelta(hours=3)).isoformat(),
    "now": NOW.isoformat(),
}


class BlockedChanges:
    """A ChangeHistory that hangs until released (a CloudTrail call stuck on a slow network)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.finished = threading.Event()

    def changes(self, region: str, start: datetime, end: datetime) -> list[ChangeRecord]:
        self.release.wait(30)
        self.finished.set()
        return []


class BrokenChanges:
    def changes(self, region: str, start: datetime, end: datetime) -> list[ChangeRecord]:
        raise ConnectionError("cloudtrail.us-east-1.amazonaws.com: connection reset")


class PagedChanges:
    """A ChangeHistory that charges one API call a page, like the CloudTrail adapter, and keeps the pages it read
    when the budget refuses the next one."""

    def __init__(self, pages: int) -> None:
        self.pages = pages

    def changes(self, region: str, start: datetime, end: datetime) -> list[ChangeRecord]:
        found: list[ChangeRecord] = []
        try:
            for page in range(self.pages):
                charge("cloudtrail.LookupEvents")
                found.append(change(page))
        except CallBudgetExceeded:
            if not found:
                raise
        return found


def change(index: int) -> ChangeRecord:
    return ChangeRecord(
        event_id=f"evt-{index}", at=NOW - timedelta(minutes=index + 1), name="PutParameter", source="ssm.amazonaws.com"
    )


class Logs:
    """A LogSearch answering from lists; each window's query scans `scanned` bytes, `refuse_baseline` makes the
    baseline query run out of its scan budget."""

    def __init__(self, scanned: float = 1e6, *, truncated: bool = False, refuse_baseline: bool = False) -> None:
        self.scanned, self.truncated, self.refuse_baseline = scanned, truncated, refuse_baseline
        self.budgets: list[float | None] = []

    def sample(
        self, region: str, groups: list[str], start: datetime, end: datetime, limit: int, max_bytes: float | None = None
    ) -> LogSample:
        self.budgets.append(max_bytes)
        baseline = end < NOW
        if baseline and self.refuse_baseline:
            raise ScanBudgetExceeded("query q-2 stopped: 9,000 bytes scanned, budget 5,000")
        message = "INFO GET /cart 200" if baseline else "ERROR pool exhausted"
        lines = [LogRecord(at=end - timedelta(seconds=s), group=groups[0], message=message) for s in range(1, 40)]
        return LogSample(records=lines, truncated=self.truncated, bytes_scanned=self.scanned)


def deps(**ports: Any) -> Deps:
    return Deps(
        store=None,
        results=None,
        actions=None,
        catalog=[Service(name="checkout", log_groups=["/ecs/prod/checkout"])],  # type: ignore[arg-type]
        default_region="us-east-1",
        runbooks=[],
        policy=None,
        messenger=None,  # type: ignore[arg-type]
        now=lambda: NOW,
        sleep=lambda _s: None,
        limits=ports.pop("limits", Limits(source_timeout_seconds=0.2)),
        **ports,
    )


def test_a_source_past_its_budget_is_a_gap_and_does_not_wait_for_it() -> None:
    slow = BlockedChanges()
    (gap,) = gather_one(deps(changes=slow), "changes", SCOPE).evidence
    assert gap.kind is EvidenceKind.GAP and gap.source == "changes"
    assert "budget" in gap.summary
    assert not slow.finished.is_set()  # we answered while the source was still stuck
    slow.release.set()


def test_a_failing_source_is_a_gap_naming_the_error() -> None:
    (gap,) = gather_one(deps(changes=BrokenChanges()), "changes", SCOPE).evidence
    assert gap.kind is EvidenceKind.GAP and "ConnectionError" in gap.summary and "connection reset" in gap.summary


def test_an_unconfigured_source_is_a_gap() -> None:
    (gap,) = gather_one(deps(), "changes", SCOPE).evidence
    assert gap.kind is EvidenceKind.GAP and "no change history" in gap.summary


def cuts(found: list[Any]) -> list[str]:
    return [item.details["reason"] for item in found if item.kind is EvidenceKind.GAP and item.details.get("cut")]


def test_api_calls_are_counted_per_source_and_a_cut_keeps_what_was_read() -> None:
    limits = Limits(source_timeout_seconds=5, api_calls_per_source=3)
    within = gather_one(deps(changes=PagedChanges(3), limits=limits), "changes", SCOPE)
    assert within.api_calls == 3 and not cuts(within.evidence)
    assert [item.entity for item in within.evidence if item.kind is EvidenceKind.CONFIG_CHANGE] != []

    cut = gather_one(deps(changes=PagedChanges(5), limits=limits), "changes", SCOPE)
    assert cut.api_calls == 3
    assert len([item for item in cut.evidence if item.kind is EvidenceKind.CONFIG_CHANGE]) == 3
    assert cuts(cut.evidence) == ["API-call budget of 3 used up; 1 call(s) not made"]


def test_a_source_refused_its_first_call_is_a_cut_that_read_nothing() -> None:
    limits = Limits(source_timeout_seconds=5, api_calls_per_source=0)
    (gap,) = gather_one(deps(changes=PagedChanges(2), limits=limits), "changes", SCOPE).evidence
    assert gap.details["cut"] and "budget of 0 used up" in gap.summary and "nothing read" in gap.summary


def test_logs_read_the_incident_window_first_and_give_the_baseline_what_is_left_of_the_scan_budget() -> None:
    logs = Logs(scanned=3e6)
    limits = Limits(source_timeout_seconds=5, log_scan_bytes=5e6)
    found = gather_one(deps(logs=logs, limits=limits), "logs", SCOPE).evidence
    assert logs.budgets == [5e6, 2e6]
    assert not cuts(found)
    assert any(item.details.get("status") == "new" for item in found)  # with a baseline the errors are new


def test_logs_whose_incident_window_used_the_scan_budget_skip_the_baseline_and_say_so() -> None:
    logs = Logs(scanned=6e6)
    found = gather_one(deps(logs=logs, limits=Limits(source_timeout_seconds=5, log_scan_bytes=5e6)), "logs", SCOPE)
    assert logs.budgets == [5e6]  # no baseline query was started
    assert cuts(found.evidence) == ["baseline not read: the incident window alone scanned 6,000,000 bytes"]
    assert not any(item.details.get("status") == "new" for item in found.evidence)  # nothing is new without baseline


def test_a_baseline_query_stopped_by_the_scan_budget_is_a_cut() -> None:
    logs = Logs(refuse_baseline=True)
    found = gather_one(deps(logs=logs, limits=Limits(source_timeout_seconds=5)), "logs", SCOPE).evidence
    assert cuts(found) == ["baseline not read: query q-2 stopped: 9,000 bytes scanned, budget 5,000"]


def test_log_samples_that_hit_the_line_limit_say_what_was_mined() -> None:
    logs = Logs(truncated=True)
    limits = Limits(source_timeout_seconds=5, log_lines_limit=200)
    found = gather_one(deps(logs=logs, limits=limits), "logs", SCOPE).evidence
    assert [reason.split(" lines")[0] for reason in cuts(found)] == [
        "only the newest 100",
        "only the newest 100 baseline",
    ]
