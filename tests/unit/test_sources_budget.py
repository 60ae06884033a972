"""Evidence sources: a failure or an overrun of the per-source budget becomes a gap, and never holds up the rest."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from oncall_agent.domain.catalog import Service
from oncall_agent.domain.evidence import EvidenceKind
from oncall_agent.domain.records import ChangeRecord
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


def deps(**ports: Any) -> Deps:
    return Deps(
        store=None,
        results=None,
        actions=None,
        catalog=[Service(name="checkout")],  # type: ignore[arg-type]
        default_region="us-east-1",
        runbooks=[],
        policy=None,
        messenger=None,  # type: ignore[arg-type]
        now=lambda: NOW,
        sleep=lambda _s: None,
        limits=Limits(source_timeout_seconds=0.2),
        **ports,
    )


def test_a_source_past_its_budget_is_a_gap_and_does_not_wait_for_it() -> None:
    slow = BlockedChanges()
    (gap,) = gather_one(deps(changes=slow), "changes", SCOPE)
    assert gap.kind is EvidenceKind.GAP and gap.source == "changes"
    assert "budget" in gap.summary
    assert not slow.finished.is_set()  # we answered while the source was still stuck
    slow.release.set()


def test_a_failing_source_is_a_gap_naming_the_error() -> None:
    (gap,) = gather_one(deps(changes=BrokenChanges()), "changes", SCOPE)
    assert gap.kind is EvidenceKind.GAP and "ConnectionError" in gap.summary and "connection reset" in gap.summary


def test_an_unconfigured_source_is_a_gap() -> None:
    (gap,) = gather_one(deps(), "changes", SCOPE)
    assert gap.kind is EvidenceKind.GAP and "no change history" in gap.summary
