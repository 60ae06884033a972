"""The outbox (SqlOutbox) and its relay on SQLite and PostgreSQL, with in-test ServiceNow and GitHub fakes.

The fakes implement ports.TicketTracker / ports.IssueTracker the way the real adapters promise to: ensure_* is
find-or-create by correlation id / marker, notes and comments are keyed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from oncall_agent.coordination.relay import OutboxRelay
from oncall_agent.domain.records import DeployRecord, TicketRecord
from oncall_agent.ports import IssueRef, TicketRef
from oncall_agent.store.engine import writer
from oncall_agent.store.outbox import DELIVERED, FAILED, PENDING, OutboxItem, SqlOutbox, enqueue
from oncall_agent.store.tables import incidents
from tests.contract.store_fixtures import T0, Clock, engine_with_incidents

MARKER = "<!-- oncall-agent:incident=inc-1 -->"


@dataclass
class FakeServiceNow:
    tickets: dict[str, TicketRef] = field(default_factory=dict)  # correlation id -> ref
    created: int = 0
    notes: dict[str, str] = field(default_factory=dict)  # key -> note
    lines: dict[tuple[str, str], str] = field(default_factory=dict)  # (sys_id, prefix) -> line
    fail_next: list[Exception] = field(default_factory=list)

    def change_requests(self, ci: str, start: datetime, end: datetime) -> list[TicketRecord]:
        return []

    def _maybe_fail(self) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)

    def ensure_incident(
        self, correlation_id: str, short_description: str, description: str, ci: str | None
    ) -> TicketRef:
        self._maybe_fail()
        if correlation_id not in self.tickets:
            self.created += 1
            self.tickets[correlation_id] = TicketRef(f"sys{self.created}", f"INC00{self.created}", "new")
        return self.tickets[correlation_id]

    def add_work_note(self, ref: TicketRef, note: str, key: str) -> None:
        self._maybe_fail()
        assert ref.system_id in {t.system_id for t in self.tickets.values()}
        self.notes.setdefault(key, note)

    def resolve_incident(self, ref: TicketRef, close_notes: str, close_code: str) -> TicketRef:
        return TicketRef(ref.system_id, ref.number, "resolved")

    def set_description_line(self, ref: TicketRef, prefix: str, line: str) -> None:
        self.lines[(ref.system_id, prefix)] = line


@dataclass
class FakeGitHub:
    issues: dict[tuple[str, str], int] = field(default_factory=dict)  # (repo, marker) -> number
    comments: dict[str, str] = field(default_factory=dict)
    labels: dict[int, list[str]] = field(default_factory=dict)
    closed: list[int] = field(default_factory=list)
    lines: dict[tuple[int, str], str] = field(default_factory=dict)  # (number, prefix) -> line

    def commits(self, repo: str, start: datetime, end: datetime) -> list[DeployRecord]:
        return []

    def search_issues(self, repo: str, text: str) -> list[TicketRecord]:
        return []

    def ensure_issue(self, repo: str, marker: str, title: str, body: str, labels: list[str]) -> IssueRef:
        assert marker in body
        number = self.issues.setdefault((repo, marker), len(self.issues) + 100)
        return IssueRef(number, "open", f"https://github.example/{repo}/issues/{number}")

    def comment(self, repo: str, number: int, body: str, key: str) -> None:
        self.comments.setdefault(key, body)

    def set_labels(self, repo: str, number: int, labels: list[str]) -> None:
        self.labels[number] = labels

    def close_issue(self, repo: str, number: int) -> IssueRef:
        self.closed.append(number)
        return IssueRef(number, "closed")

    def set_body_line(self, repo: str, number: int, prefix: str, line: str) -> None:
        self.lines[(number, prefix)] = line


@pytest.fixture()
def engine(store_url: str) -> Iterator[Engine]:
    yield from engine_with_incidents(store_url, links={"seed": "kept"})


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def outbox(engine: Engine, clock: Clock) -> SqlOutbox:
    return SqlOutbox(
        engine, clock, base_backoff=timedelta(seconds=10), max_backoff=timedelta(seconds=60), max_attempts=4
    )


def sn_ensure(incident: str = "inc-1") -> OutboxItem:
    return OutboxItem(
        f"{incident}:sn:ensure",
        incident,
        "servicenow",
        "servicenow.ensure_incident",
        {
            "correlation_id": incident,
            "short_description": "checkout 5xx",
            "description": "...",
            "ci": "checkout-svc",
        },
    )


def sn_note(n: int, incident: str = "inc-1") -> OutboxItem:
    key = f"{incident}:sn:note:{n}"
    return OutboxItem(key, incident, "servicenow", "servicenow.work_note", {"note": f"note {n}", "key": key})


def gh_ensure(incident: str = "inc-1") -> OutboxItem:
    return OutboxItem(
        f"{incident}:gh:ensure",
        incident,
        "github",
        "github.ensure_issue",
        {
            "repo": "acme/checkout",
            "marker": MARKER,
            "title": "checkout 5xx",
            "body": f"{MARKER}\nbody",
            "labels": ["p2"],
        },
    )


def gh(op: str, n: int, payload: Mapping[str, Any], incident: str = "inc-1") -> OutboxItem:
    return OutboxItem(f"{incident}:gh:{op}:{n}", incident, "github", f"github.{op}", dict(payload))


# --- the outbox ---------------------------------------------------------------------------------------------


def test_enqueue_ignores_a_key_already_queued(outbox: SqlOutbox) -> None:
    assert outbox.enqueue([sn_ensure(), sn_note(1)]) == 2
    assert outbox.enqueue([sn_ensure(), sn_note(1)]) == 0
    assert outbox.enqueue([sn_note(1), sn_note(2)]) == 1
    assert [r.key for r in outbox.for_incident("inc-1")] == ["inc-1:sn:ensure", "inc-1:sn:note:1", "inc-1:sn:note:2"]


def test_enqueue_belongs_to_the_callers_transaction(engine: Engine, outbox: SqlOutbox) -> None:
    with pytest.raises(RuntimeError), writer(engine).begin() as connection:
        enqueue(connection, [sn_ensure()], T0)
        raise RuntimeError("the state change failed")
    assert outbox.for_incident("inc-1") == []
    with writer(engine).begin() as connection:
        connection.execute(sa.update(incidents).where(incidents.c.id == "inc-1").values(status="escalated"))
        assert enqueue(connection, [sn_ensure()], T0) == 1
    assert [r.status for r in outbox.for_incident("inc-1")] == [PENDING]


def test_items_are_validated() -> None:
    with pytest.raises(ValueError, match="target"):
        OutboxItem("k", "inc-1", "slack", "slack.post", {})
    with pytest.raises(ValueError, match="belong"):
        OutboxItem("k", "inc-1", "github", "servicenow.work_note", {})
    with pytest.raises(ValueError, match="key"):
        OutboxItem("", "inc-1", "github", "github.comment", {})


def test_due_hands_out_one_row_per_incident_and_target_in_order(outbox: SqlOutbox) -> None:
    outbox.enqueue([sn_ensure(), sn_note(1), gh_ensure(), sn_ensure("inc-2"), gh("comment", 1, {"body": "b"})])
    first = outbox.due(10)
    assert [r.key for r in first] == ["inc-1:sn:ensure", "inc-1:gh:ensure", "inc-2:sn:ensure"]
    assert [r.key for r in outbox.due(2)] == ["inc-1:sn:ensure", "inc-1:gh:ensure"]
    outbox.mark_delivered(first[0].id, {"ok": True})
    assert [r.key for r in outbox.due(10)] == ["inc-1:sn:note:1", "inc-1:gh:ensure", "inc-2:sn:ensure"]


def test_retry_backs_off_exponentially_and_gives_up_visibly(outbox: SqlOutbox, clock: Clock) -> None:
    outbox.enqueue([sn_ensure(), sn_note(1)])
    row = outbox.due()[0]
    delays = []
    for _ in range(3):
        retried = outbox.mark_retry(row.id, "HTTP 503")
        delays.append(retried.next_attempt_at - clock.at)
        assert outbox.due() == []  # not before its time, and the note waits behind it
        clock.at = retried.next_attempt_at
        assert [r.id for r in outbox.due()] == [row.id]
    assert delays == [timedelta(seconds=10), timedelta(seconds=20), timedelta(seconds=40)]
    assert outbox.backoff(10) == timedelta(seconds=60)
    final = outbox.mark_retry(row.id, "HTTP 503 again")
    assert (final.status, final.attempts, final.last_error) == (FAILED, 4, "HTTP 503 again")
    assert [r.status for r in outbox.for_incident("inc-1")] == [FAILED, PENDING]
    clock.at += timedelta(hours=1)
    assert [r.key for r in outbox.due()] == ["inc-1:sn:note:1"]  # a failed row no longer blocks its successors


def test_an_explicit_backoff_wins(outbox: SqlOutbox, clock: Clock) -> None:
    outbox.enqueue([sn_ensure()])
    row = outbox.mark_retry(outbox.due()[0].id, "429", backoff=timedelta(seconds=90))
    assert row.next_attempt_at == clock.at + timedelta(seconds=90)


def test_mark_delivered_merges_links_in_the_same_transaction(outbox: SqlOutbox, clock: Clock) -> None:
    outbox.enqueue([sn_ensure()])
    row = outbox.due()[0]
    outbox.mark_delivered(row.id, {"number": "INC001"}, {"servicenow_sys_id": "abc", "servicenow_number": "INC001"})
    assert outbox.links("inc-1") == {"seed": "kept", "servicenow_sys_id": "abc", "servicenow_number": "INC001"}
    (delivered,) = outbox.for_incident("inc-1")
    assert (delivered.status, delivered.result, delivered.delivered_at) == (DELIVERED, {"number": "INC001"}, clock.at)
    assert outbox.links("inc-missing") == {}


# --- the relay ----------------------------------------------------------------------------------------------


def relay_for(outbox: Any, sn: FakeServiceNow | None = None, gh_fake: FakeGitHub | None = None) -> OutboxRelay:
    return OutboxRelay(outbox, sn, gh_fake, lambda incident_id: None)


def test_relay_delivers_everything_in_order_and_records_links(outbox: SqlOutbox) -> None:
    sn, github = FakeServiceNow(), FakeGitHub()
    outbox.enqueue(
        [
            sn_ensure(),
            gh_ensure(),
            sn_note(1),
            gh("comment", 1, {"body": "first"}),
            sn_note(2),
            gh("labels", 1, {"labels": ["resolved"]}),
            OutboxItem(
                "inc-1:sn:resolve",
                "inc-1",
                "servicenow",
                "servicenow.resolve",
                {"close_notes": "rolled back", "close_code": "Solved (Permanently)"},
            ),
            gh("close", 1, {}),
        ]
    )
    assert relay_for(outbox, sn, github).run_once(limit=50) == 10  # and the two cross-links
    links = outbox.links("inc-1")
    assert links["servicenow_sys_id"] == "sys1" and links["servicenow_number"] == "INC001"
    assert links["github_issue"] == "100" and links["github_repo"] == "acme/checkout"
    assert links["servicenow_state"] == "resolved" and links["github_state"] == "closed"
    assert list(sn.notes) == ["inc-1:sn:note:1", "inc-1:sn:note:2"]
    assert github.comments == {"inc-1:gh:comment:1": "first"} and github.labels == {100: ["resolved"]}
    assert github.closed == [100]
    assert {r.status for r in outbox.for_incident("inc-1")} == {DELIVERED}
    assert github.lines == {(100, "**ServiceNow:** "): "**ServiceNow:** INC001"}  # the fake has no link
    assert sn.lines == {
        ("sys1", "GitHub issue: "): "GitHub issue: acme/checkout#100 https://github.example/acme/checkout/issues/100"
    }


def test_run_once_respects_its_limit(outbox: SqlOutbox) -> None:
    outbox.enqueue([sn_ensure(), sn_note(1), sn_note(2)])
    relay = relay_for(outbox, FakeServiceNow())
    assert relay.run_once(limit=2) == 2
    assert relay.run_once(limit=2) == 1


def test_a_row_queued_before_its_ticket_waits_for_it(outbox: SqlOutbox, clock: Clock) -> None:
    sn, github = FakeServiceNow(), FakeGitHub()
    outbox.enqueue([sn_note(1), gh("comment", 1, {"body": "early"}), sn_ensure(), gh_ensure(), sn_note(2)])
    relay = relay_for(outbox, sn, github)
    assert relay.run_once() == 2  # both ensures; the early rows wait (and keep their successors waiting)
    waiting = {r.key: r.last_error for r in outbox.for_incident("inc-1") if r.status == PENDING}
    cross_links = {"inc-1:link:servicenow", "inc-1:link:github"}  # queued behind them
    assert set(waiting) == {"inc-1:sn:note:1", "inc-1:gh:comment:1", "inc-1:sn:note:2"} | cross_links
    assert "waiting" in (waiting["inc-1:sn:note:1"] or "")
    clock.at += timedelta(minutes=5)
    assert relay.run_once() == 5
    assert list(sn.notes) == ["inc-1:sn:note:1", "inc-1:sn:note:2"] and list(github.comments) == ["inc-1:gh:comment:1"]


class CrashOnDelivered:
    """The real outbox, but the process 'dies' right after the remote write, before recording it."""

    def __init__(self, inner: SqlOutbox) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def mark_delivered(self, *args: Any, **kwargs: Any) -> None:
        raise SystemExit("killed")


def test_a_crash_after_the_remote_write_creates_no_second_ticket(outbox: SqlOutbox, clock: Clock) -> None:
    sn, github = FakeServiceNow(), FakeGitHub()
    outbox.enqueue([sn_ensure(), gh_ensure()])
    with pytest.raises(SystemExit):
        relay_for(CrashOnDelivered(outbox), sn, github).run_once()
    assert relay_for(outbox, sn, github).run_once() == 0  # the dead relay's claim holds until it expires
    clock.at += timedelta(seconds=30)
    with pytest.raises(SystemExit):
        relay_for(CrashOnDelivered(outbox), sn, github).run_once()
    clock.at += timedelta(seconds=30)
    assert all(r.status == PENDING for r in outbox.for_incident("inc-1"))
    assert relay_for(outbox, sn, github).run_once() == 4  # and the cross-links, queued with the second record
    assert sn.created == 1 and len(sn.tickets) == 1
    assert len(github.issues) == 1
    assert outbox.links("inc-1")["servicenow_sys_id"] == "sys1"
    outbox.enqueue([sn_ensure(), gh_ensure()])  # a replayed producer: ignored
    assert relay_for(outbox, sn, github).run_once() == 0
    assert sn.created == 1


def test_tracker_failures_are_retried_with_redacted_errors(outbox: SqlOutbox, clock: Clock) -> None:
    sn = FakeServiceNow(fail_next=[RuntimeError("401 from https://admin:hunter2@acme.service-now.com token=abc123")])
    outbox.enqueue([sn_ensure()])
    relay = relay_for(outbox, sn)
    assert relay.run_once() == 0
    (row,) = outbox.for_incident("inc-1")
    assert row.status == PENDING and row.attempts == 1
    assert "hunter2" not in (row.last_error or "") and "abc123" not in (row.last_error or "")
    assert "RuntimeError: 401" in (row.last_error or "")
    clock.at = row.next_attempt_at
    assert relay.run_once() == 1


def test_unconfigured_targets_are_skipped_and_bad_rows_fail(outbox: SqlOutbox) -> None:
    outbox.enqueue(
        [
            sn_ensure(),
            gh_ensure(),
            OutboxItem("inc-2:gh:weird", "inc-2", "github", "github.delete_repo", {}),
            OutboxItem("inc-2:sn:bad", "inc-2", "servicenow", "servicenow.ensure_incident", {"correlation_id": "x"}),
        ]
    )
    assert relay_for(outbox, None, FakeGitHub()).run_once() == 3
    by_key = {r.key: r for r in outbox.for_incident("inc-1") + outbox.for_incident("inc-2")}
    assert by_key["inc-1:sn:ensure"].result == {"skipped": "ServiceNow is not configured"}
    assert by_key["inc-1:gh:ensure"].status == DELIVERED
    assert by_key["inc-2:gh:weird"].status == FAILED
    assert "unknown operation" in (by_key["inc-2:gh:weird"].last_error or "")
    assert by_key["inc-2:sn:bad"].status == DELIVERED  # no ServiceNow configured: skipped before validation
    missing = OutboxItem("inc-2:sn:bad2", "inc-2", "servicenow", "servicenow.ensure_incident", {"correlation_id": "x"})
    outbox.enqueue([missing])
    relay_for(outbox, FakeServiceNow(), None).run_once()
    (bad,) = [r for r in outbox.for_incident("inc-2") if r.key == "inc-2:sn:bad2"]
    assert bad.status == FAILED and "short_description" in (bad.last_error or "")


def test_repo_falls_back_to_the_callback(outbox: SqlOutbox) -> None:
    github = FakeGitHub()
    item = gh_ensure()
    outbox.enqueue(
        [
            OutboxItem(
                item.key,
                item.incident_id,
                item.target,
                item.operation,
                {k: v for k, v in item.payload.items() if k != "repo"},
            )
        ]
    )
    relay = OutboxRelay(outbox, None, github, lambda incident_id: f"acme/{incident_id}")
    assert relay.run_once() == 1
    assert outbox.links("inc-1")["github_repo"] == "acme/inc-1"
