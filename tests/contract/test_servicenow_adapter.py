"""ServiceNowTracker against the ServiceNow stand-in: windowed change reads, find-or-create that never makes two
incidents (429, 5xx after commit, loose query matches), work notes once per key, resolve with close fields."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from starlette.types import ASGIApp

from oncall_agent.adapters.servicenow import ServiceNowTracker, TicketError, work_note_marker
from oncall_agent.ports import TicketRef
from oncall_agent.sandbox.standins import (
    BackgroundServer,
    FaultInjector,
    FaultRule,
    ServiceNowState,
    create_servicenow_app,
)
from tests.contract.commit_then_fail import CommitThenFail as SharedCommitThenFail

pytestmark = pytest.mark.sandbox

USER, PASSWORD = "oncall-agent", "s3cret-pw"
INCIDENT = r"^/api/now/table/incident$"
START, END = datetime(2026, 3, 1, 10, 0, tzinfo=UTC), datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class CommitThenFail(SharedCommitThenFail):
    BODY: ClassVar[dict[str, Any]] = {"error": {"message": "Service Unavailable", "detail": None}, "status": "failure"}
    STATUS: ClassVar[int] = 503


@dataclass
class World:
    state: ServiceNowState
    faults: FaultInjector
    base_url: str
    sleeps: list[float] = field(default_factory=list)

    def tracker(self, **overrides: object) -> ServiceNowTracker:
        options: dict[str, object] = {"backoff_base": 0.001, "max_attempts": 3, "sleep": self.sleeps.append}
        options.update(overrides)
        return ServiceNowTracker(self.base_url, USER, PASSWORD, **options)  # type: ignore[arg-type]

    def statuses(self, method: str, path_regex: str) -> list[int | None]:
        return [r.status for r in self.faults.requests() if r.method == method and re.search(path_regex, r.path)]


def serve(wrap: type[CommitThenFail] | None = None, **wrap_args: object) -> Iterator[World]:
    state, faults = ServiceNowState(), FaultInjector()
    app: ASGIApp = create_servicenow_app(state, faults, USER, PASSWORD)
    if wrap is not None:
        app = wrap(app, **wrap_args)  # type: ignore[arg-type]
    server = BackgroundServer(app, faults=faults)
    yield World(state, faults, server.start())
    server.stop()


@pytest.fixture
def world() -> Iterator[World]:
    yield from serve()


def change(state: ServiceNowState, number: str, ci: str, start: str, end: str = "", opened: str = "") -> None:
    fields = {"number": number, "cmdb_ci": ci, "start_date": start, "end_date": end, "short_description": number}
    state.add_record("change_request", {**fields, "opened_at": opened or "2026-02-20 09:00:00", "state": "-1"})


def test_change_requests_in_the_window(world: World) -> None:
    change(world.state, "CHG1", "checkout", "2026-03-01 09:00:00", "2026-03-01 10:30:00")  # overlaps the start
    change(world.state, "CHG2", "checkout", "2026-03-01 11:00:00")  # starts inside, no planned end
    change(world.state, "CHG3", "checkout", "2026-03-05 00:00:00", "2026-03-05 01:00:00", "2026-03-01 11:30:00")
    change(world.state, "CHG4", "checkout", "2026-03-01 08:00:00", "2026-03-01 09:59:59")  # ends before
    change(world.state, "CHG5", "checkout", "2026-03-01 12:00:01", "2026-03-01 13:00:00")  # starts after
    change(world.state, "CHG6", "payments", "2026-03-01 10:30:00", "2026-03-01 10:45:00")  # other CI
    change(world.state, "CHG7", "checkout", "2026-03-01 08:00:00", "2026-03-01 14:00:00")  # spans the window

    found = world.tracker().change_requests("checkout", START, END)

    assert sorted(record.number for record in found) == ["CHG1", "CHG2", "CHG3", "CHG7"]
    first = next(record for record in found if record.number == "CHG1")
    assert (first.system, first.kind, first.title, first.ci, first.state) == (
        "servicenow",
        "change_request",
        "CHG1",
        "checkout",
        "-1",
    )
    assert first.start == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert first.end == datetime(2026, 3, 1, 10, 30, tzinfo=UTC)
    assert first.link is not None and first.link.startswith(world.base_url)


def test_change_requests_follow_pages(world: World) -> None:
    for i in range(5):
        change(world.state, f"CHG{i}", "checkout", f"2026-03-01 10:0{i}:00", "2026-03-01 10:30:00")

    found = world.tracker(page_size=2).change_requests("checkout", START, END)

    assert [record.number for record in found] == [f"CHG{i}" for i in range(5)]
    assert len(world.statuses("GET", r"/change_request$")) == 3


def test_ensure_incident_twice_is_one_incident(world: World) -> None:
    tracker = world.tracker()

    first = tracker.ensure_incident("inc-7f3a", "checkout 5xx", "Investigating", "checkout")
    second = tracker.ensure_incident("inc-7f3a", "checkout 5xx (again)", "Investigating", "checkout")

    records = world.state.records("incident")
    assert len(records) == 1 and first == second
    assert (first.system_id, first.number, first.state) == (records[0]["sys_id"], "INC0010001", "1")
    assert records[0]["correlation_id"] == "inc-7f3a" and records[0]["cmdb_ci"] == "checkout"
    assert records[0]["short_description"] == "checkout 5xx"
    assert world.statuses("POST", INCIDENT) == [201]


def test_ensure_incident_finds_one_created_elsewhere(world: World) -> None:
    existing = world.state.add_record("incident", {"correlation_id": "inc-1", "short_description": "made by a crash"})

    ref = world.tracker().ensure_incident("inc-1", "x", "y", None)

    assert ref.system_id == existing["sys_id"]
    assert len(world.state.records("incident")) == 1
    assert world.statuses("POST", INCIDENT) == []


def test_ensure_incident_rechecks_the_correlation_id(world: World) -> None:
    # The instance compares case-insensitively: the query returns INC-1's incident for inc-1.
    other = world.state.add_record("incident", {"correlation_id": "INC-1", "short_description": "someone else's"})

    ref = world.tracker().ensure_incident("inc-1", "ours", "", None)

    assert ref.system_id != other["sys_id"]
    assert sorted(r["correlation_id"] for r in world.state.records("incident")) == ["INC-1", "inc-1"]


def test_429_with_retry_after_then_201_is_exactly_one_incident(world: World) -> None:
    world.faults.add(FaultRule("POST", INCIDENT, status=429, retry_after=1, times=1))

    ref = world.tracker().ensure_incident("inc-429", "throttled", "", None)

    assert len(world.state.records("incident")) == 1
    assert world.state.records("incident")[0]["sys_id"] == ref.system_id
    assert world.sleeps == [1.0]  # Retry-After honoured, not the (tiny) backoff
    assert world.statuses("POST", INCIDENT) == [429, 201]
    assert world.statuses("GET", INCIDENT) == [200, 200]  # looked again before the second POST


def test_5xx_after_commit_is_reconciled_not_created_twice() -> None:
    for world in serve(CommitThenFail, method="POST", path_regex=INCIDENT, status=503):
        ref = world.tracker().ensure_incident("inc-lost-answer", "x", "", None)

        records = world.state.records("incident")
        assert [r["sys_id"] for r in records] == [ref.system_id]
        assert world.statuses("POST", INCIDENT) == [201]  # the app answered 201; the client saw 503
        assert len(world.sleeps) == 1


def test_persistent_5xx_gives_up_after_max_attempts(world: World) -> None:
    world.faults.add(FaultRule("GET", INCIDENT, status=503))

    with pytest.raises(TicketError) as caught:
        world.tracker(max_attempts=3).ensure_incident("inc-down", "x", "", None)

    assert caught.value.status == 503 and caught.value.retryable
    assert world.statuses("GET", INCIDENT) == [503, 503, 503]
    assert world.statuses("POST", INCIDENT) == []
    assert len(world.sleeps) == 2


def test_retry_after_beyond_the_bound_is_not_waited(world: World) -> None:
    world.faults.add(FaultRule("POST", INCIDENT, status=429, retry_after=120, times=1))

    with pytest.raises(TicketError) as caught:
        world.tracker(max_retry_after=60).ensure_incident("inc-slow", "x", "", None)

    assert caught.value.status == 429 and caught.value.retry_after == 120
    assert world.sleeps == []
    assert world.state.records("incident") == []


def test_unreachable_instance_is_a_ticket_error(world: World) -> None:
    tracker = ServiceNowTracker(
        "http://127.0.0.1:9", USER, PASSWORD, max_attempts=2, backoff_base=0.001, sleep=world.sleeps.append
    )

    with pytest.raises(TicketError) as caught:
        tracker.change_requests("checkout", START, END)

    assert caught.value.status is None and caught.value.retryable
    assert len(world.sleeps) == 1


def test_wrong_password_is_not_retried_and_never_shown(world: World) -> None:
    tracker = ServiceNowTracker(world.base_url, USER, "wrong-pw", sleep=world.sleeps.append)

    with pytest.raises(TicketError) as caught:
        tracker.ensure_incident("inc-1", "x", "", None)

    assert caught.value.status == 401 and "User Not Authenticated" in str(caught.value)
    assert world.sleeps == [] and len(world.faults.requests()) == 1
    assert "wrong-pw" not in str(caught.value) + repr(tracker)


def test_work_note_twice_with_one_key_is_one_journal_entry(world: World) -> None:
    tracker = world.tracker()
    ref = tracker.ensure_incident("inc-notes", "x", "", None)

    tracker.add_work_note(ref, "Hypothesis: deploy checkout:42", key="hyp-1")
    tracker.add_work_note(ref, "Hypothesis: deploy checkout:42", key="hyp-1")
    tracker.add_work_note(ref, "Rolled back", key="hyp-10")  # a key that extends another is its own key

    history = world.state.work_notes_history("incident", ref.system_id)
    assert history == [
        f"Hypothesis: deploy checkout:42\n\n{work_note_marker('hyp-1')}",
        f"Rolled back\n\n{work_note_marker('hyp-10')}",
    ]
    assert world.statuses("PATCH", r"/incident/") == [200, 200]


def test_a_quoted_marker_does_not_pass_for_another_key(world: World) -> None:
    tracker = world.tracker()
    ref = tracker.ensure_incident("inc-quote", "x", "", None)

    tracker.add_work_note(ref, "log line: [oncall-agent:step-2]", key="step-1")
    tracker.add_work_note(ref, "the real step 2", key="step-2")

    assert len(world.state.work_notes_history("incident", ref.system_id)) == 2


def test_work_note_whose_answer_was_lost_is_not_added_twice() -> None:
    for world in serve(CommitThenFail, method="PATCH", path_regex=r"/incident/", status=502):
        tracker = world.tracker()
        ref = tracker.ensure_incident("inc-n", "x", "", None)

        tracker.add_work_note(ref, "once", key="k")

        assert world.state.work_notes_history("incident", ref.system_id) == [f"once\n\n{work_note_marker('k')}"]


def test_resolve_sets_close_fields_and_is_idempotent(world: World) -> None:
    tracker = world.tracker()
    ref = tracker.ensure_incident("inc-r", "x", "", None)

    resolved = tracker.resolve_incident(ref, close_notes="Rolled back checkout:42", close_code="Solved (Permanently)")
    again = tracker.resolve_incident(ref, close_notes="other", close_code="other")

    record = world.state.get("incident", ref.system_id)
    assert record is not None
    assert resolved.state == again.state == "6"
    assert (record["close_code"], record["close_notes"]) == ("Solved (Permanently)", "Rolled back checkout:42")
    assert record["resolved_at"]
    assert world.statuses("PATCH", r"/incident/") == [200]


def test_resolve_without_close_fields_is_refused_by_the_data_policy(world: World) -> None:
    tracker = world.tracker()
    ref = tracker.ensure_incident("inc-p", "x", "", None)

    with pytest.raises(TicketError) as caught:
        tracker.resolve_incident(ref, close_notes="", close_code="")

    assert caught.value.status == 403 and not caught.value.retryable
    assert caught.value.detail is not None and "mandatory" in caught.value.detail
    assert world.statuses("PATCH", r"/incident/") == [403]  # a 4xx is not retried
    assert world.state.records("incident")[0]["state"] == "1"


def test_unusable_query_values_are_refused(world: World) -> None:
    tracker = world.tracker()

    with pytest.raises(ValueError):
        tracker.ensure_incident("inc-1^ORcorrelation_idISNOTEMPTY", "x", "", None)
    with pytest.raises(ValueError):
        tracker.add_work_note(TicketRef("../sys_user", "INC1", "1"), "x", "k")
    assert world.faults.requests() == []


def test_escalate_assigns_the_group_raises_priority_and_takes_the_incident_in_progress(world: World) -> None:
    tracker = world.tracker()
    ref = tracker.ensure_incident("inc-e", "x", "", None)
    before = world.state.get("incident", ref.system_id)
    assert before is not None and (before["state"], before["priority"]) == ("1", "5")

    escalated = tracker.escalate(ref, "Storefront On-Call", impact=2, urgency=1)
    again = tracker.escalate(ref, "Storefront On-Call", impact=2, urgency=1)

    record = world.state.get("incident", ref.system_id)
    assert record is not None
    assert (record["assignment_group"], record["impact"], record["urgency"]) == ("Storefront On-Call", "2", "1")
    assert record["priority"] == "2"  # the stand-in's priority lookup, as the instance's
    assert escalated.state == again.state == record["state"] == "2"


def test_escalate_without_a_group_leaves_the_assignment_alone(world: World) -> None:
    tracker = world.tracker()
    ref = tracker.ensure_incident("inc-g", "x", "", None)

    tracker.escalate(ref, None, impact=1, urgency=1)

    record = world.state.get("incident", ref.system_id)
    assert record is not None and not record.get("assignment_group") and record["priority"] == "1"


def test_the_key_is_out_of_sight_and_notes_with_the_old_visible_marker_still_count(world: World) -> None:
    tracker = world.tracker()
    ref = tracker.ensure_incident("inc-hidden", "x", "", None)
    world.state.update("incident", ref.system_id, {"work_notes": "Old note\n\n[oncall-agent:old-1]"}, USER)

    tracker.add_work_note(ref, "Approved by dana", key="inc-hidden:decision:act-1")
    tracker.add_work_note(ref, "Old note", key="old-1")
    tracker.add_work_note(ref, "quoted [code]<!-- oncall-agent:step-2 -->[/code]", key="step-1")
    tracker.add_work_note(ref, "the real step 2", key="step-2")

    history = world.state.work_notes_history("incident", ref.system_id)
    assert len(history) == 4
    assert history[1] == "Approved by dana\n\n[code]<!-- oncall-agent:inc-hidden:decision:act-1 -->[/code]"
    # Only the agent's own marker may switch ServiceNow into HTML: quoted text cannot.
    assert history[2].count("[code]") == 1 and "<!-- oncall-agent:step-2" not in history[2]
