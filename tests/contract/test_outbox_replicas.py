"""Two relays ("replicas", each with its own engine and one thread per destination) on one PostgreSQL database,
against the ServiceNow and GitHub stand-ins with latency: every row is delivered exactly once, every incident
gets exactly one ticket and one issue (even with two find-or-create rows per incident racing), and notes and
comments arrive in the order they were queued; each ticket and issue names the other once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from oncall_agent.adapters.servicenow import work_note_marker
from oncall_agent.bootstrap import SystemClock
from oncall_agent.coordination.relay import CLAIM_BATCH, OutboxRelay
from oncall_agent.store.engine import make_engine
from oncall_agent.store.migrate import upgrade
from oncall_agent.store.outbox import DELIVERED, PENDING, SqlOutbox
from tests.contract.outbox_world import (
    Counting,
    Trackers,
    add_incidents,
    ensure_items,
    marker,
    trackers,
    update_items,
)

pytestmark = [pytest.mark.postgres, pytest.mark.sandbox, pytest.mark.slow]

# One claim batch of first find-or-create rows, then one of second ones: the two replicas claim one batch each
# and work through them side by side, so both rows of an incident are in flight at the same moment.
INCIDENTS = [f"inc-r{i:02d}" for i in range(CLAIM_BATCH)]
UPDATES = 3


@pytest.fixture
def world() -> Iterator[Trackers]:
    yield from trackers()


@pytest.fixture
def engines(pg_url: str) -> Iterator[list[Engine]]:
    upgrade(pg_url)
    engines = [make_engine(pg_url), make_engine(pg_url)]
    yield engines
    for engine in engines:
        engine.dispose()


def run_replicas(relays: list[OutboxRelay], outbox: SqlOutbox, deadline_s: float) -> None:
    """Each relay runs one thread per destination, like the daemon's jobs, until nothing is pending."""
    done = threading.Event()
    errors: list[BaseException] = []

    def loop(relay: OutboxRelay, target: str) -> None:
        try:
            while not done.is_set():
                if relay.run_once(50, target=target) == 0:
                    time.sleep(0.05)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the test below
            errors.append(exc)

    threads = [threading.Thread(target=loop, args=(r, t)) for r in relays for t in ("servicenow", "github")]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline and outbox.rows(PENDING):
        time.sleep(0.1)
    done.set()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors


def test_two_replicas_deliver_each_row_once_and_create_one_ticket_and_issue(
    world: Trackers, engines: list[Engine]
) -> None:
    # Latency widens every find-then-create window the way a slow tracker does.
    world.sn_faults.set_latency(20)
    world.gh_faults.set_latency(20)
    add_incidents(engines[0], INCIDENTS)
    outboxes = [SqlOutbox(engine, SystemClock(), base_backoff=timedelta(milliseconds=200)) for engine in engines]
    items = [item for i in INCIDENTS for item in ensure_items(i)]
    items += [item for i in INCIDENTS for item in ensure_items(i, copy="-again")]
    items += [item for n in range(UPDATES) for i in INCIDENTS for item in update_items(i, n)]
    assert outboxes[0].enqueue(items) == len(items)
    sn = [world.tickets(), world.tickets()]
    gh = [world.issues(), world.issues()]
    relays = [OutboxRelay(outboxes[i], sn[i], gh[i], lambda _incident: None, owner=f"replica-{i}") for i in range(2)]

    run_replicas(relays, outboxes[0], deadline_s=120)

    rows = outboxes[0].rows(None, limit=10_000)
    # ... plus the two cross-links per incident, queued once by whichever replica recorded the second record
    assert len(rows) == len(items) + 2 * len(INCIDENTS) and {r.status for r in rows} == {DELIVERED}
    calls = sum((tracker.calls for tracker in [*sn, *gh]), start=Counting(None, {}).calls)
    for incident_id in INCIDENTS:
        # two ensure rows per target, each delivered once; every note and comment delivered once
        assert calls[("ensure_incident", incident_id)] == 2
        assert calls[("ensure_issue", marker(incident_id))] == 2
        for n in range(UPDATES):
            assert calls[("add_work_note", f"{incident_id}:sn:note:{n}")] == 1
            assert calls[("comment", f"{incident_id}:gh:comment:{n}")] == 1
        (ticket,) = world.sn_incidents(incident_id)
        (issue,) = world.gh_issues(marker(incident_id))
        notes = world.servicenow.work_notes_history("incident", ticket["sys_id"])
        assert [k for n in notes for k in range(UPDATES) if work_note_marker(f"{incident_id}:sn:note:{k}") in n] == [
            0,
            1,
            2,
        ]
        assert issue.body.count(f"**ServiceNow:** [{ticket['number']}](") == 1
        assert ticket["description"].count(f"GitHub issue: acme/checkout#{issue.number} http") == 1
        comments = [c.body for c in world.github.comments("acme/checkout", issue.number)]
        assert [k for c in comments for k in range(UPDATES) if f"comment {k}" in c] == [0, 1, 2]
    # both replicas did part of the work (otherwise this proves nothing about concurrency)
    assert all(sum(tracker.calls.values()) > 0 for tracker in [*sn, *gh])


def test_a_claim_keeps_other_replicas_off_until_it_expires(world: Trackers, engines: list[Engine]) -> None:
    add_incidents(engines[0], ["inc-c"])
    first = SqlOutbox(engines[0], SystemClock(), claim_lease=timedelta(seconds=1))
    second = SqlOutbox(engines[1], SystemClock())
    first.enqueue(ensure_items("inc-c"))
    claimed = first.claim("dead-replica", 10)
    assert [r.claimed_by for r in claimed] == ["dead-replica", "dead-replica"]
    assert second.claim("live-replica", 10) == []  # held (the claim is the only thing stopping it)
    time.sleep(1.1)
    taken = second.claim("live-replica", 10)
    assert sorted(r.id for r in taken) == sorted(r.id for r in claimed)
    assert {r.claimed_by for r in taken} == {"live-replica"}
    # the first relay wakes up and re-checks before delivering: the row is no longer its own
    assert first.renew(claimed[0].id, "dead-replica") is False
    assert second.renew(taken[0].id, "live-replica") is True
    second.mark_delivered(taken[0].id, {"ok": True})
    assert second.renew(taken[0].id, "live-replica") is False  # delivered: nobody delivers it again
