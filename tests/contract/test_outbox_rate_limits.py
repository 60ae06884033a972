"""Per-destination delivery: ServiceNow answering 429 with a long Retry-After (and slowly) never delays GitHub,
and the relay does not sleep through the Retry-After: it becomes the row's not-before."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from oncall_agent.bootstrap import SystemClock
from oncall_agent.coordination.relay import OutboxRelay
from oncall_agent.sandbox.standins import FaultRule
from oncall_agent.store.engine import make_engine
from oncall_agent.store.migrate import upgrade
from oncall_agent.store.outbox import DELIVERED, PENDING, SqlOutbox
from tests.contract.outbox_world import Trackers, add_incidents, ensure_items, trackers, update_items

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

INCIDENTS = [f"inc-429-{i}" for i in range(4)]
SN_LATENCY_MS = 1500
RETRY_AFTER = 120


@pytest.fixture
def world() -> Iterator[Trackers]:
    yield from trackers()


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    upgrade(store_url)
    engine = make_engine(store_url)
    yield engine
    engine.dispose()


def test_a_rate_limited_servicenow_never_delays_github(world: Trackers, engine: Engine) -> None:
    add_incidents(engine, INCIDENTS)
    outbox = SqlOutbox(engine, SystemClock())
    outbox.enqueue([item for i in INCIDENTS for item in ensure_items(i) + update_items(i, 0)])
    world.sn_faults.add(
        FaultRule(None, r"^/api/now/table/", status=429, retry_after=RETRY_AFTER, latency_ms=SN_LATENCY_MS)
    )
    relay = OutboxRelay(outbox, world.tickets(), world.issues(), lambda _incident: None, owner="replica")
    finished: dict[str, float] = {}
    started = time.monotonic()

    def run(target: str) -> None:  # what the daemon's per-destination jobs do
        relay.run_once(50, target=target)
        finished[target] = time.monotonic() - started

    threads = [threading.Thread(target=run, args=(target,)) for target in ("servicenow", "github")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    before = datetime.now(UTC)
    print(
        f"under ServiceNow 429 (Retry-After {RETRY_AFTER} s, {SN_LATENCY_MS} ms per answer): GitHub's "
        f"{len(INCIDENTS)} issues delivered in {finished['github']:.2f} s, ServiceNow's pass ended after "
        f"{finished['servicenow']:.2f} s"
    )

    rows = outbox.rows(None)
    github = [r for r in rows if r.target == "github"]
    servicenow = [r for r in rows if r.target == "servicenow"]
    assert {r.status for r in github} == {DELIVERED}
    assert all(len(world.gh_issues(f"<!-- oncall-agent:incident={i} -->")) == 1 for i in INCIDENTS)
    # GitHub was done long before ServiceNow's slow 429s were (each takes SN_LATENCY_MS)
    assert finished["github"] < 3.0 < len(INCIDENTS) * SN_LATENCY_MS / 1000 <= finished["servicenow"]
    ensures = [r for r in servicenow if r.operation == "servicenow.ensure_incident"]
    assert {(r.status, r.attempts) for r in ensures} == {(PENDING, 1)}
    for row in ensures:
        assert "429" in (row.last_error or "")
        assert row.next_attempt_at >= before + timedelta(seconds=RETRY_AFTER - 10)  # the wait it asked for
    assert {(r.status, r.attempts) for r in servicenow if r not in ensures} == {(PENDING, 0)}  # wait behind them
    assert world.sleeps == []  # nothing slept through the Retry-After
    assert world.servicenow.records("incident") == []


def test_a_short_retry_after_is_waited_in_the_call(world: Trackers, engine: Engine) -> None:
    add_incidents(engine, INCIDENTS[:1])
    outbox = SqlOutbox(engine, SystemClock())
    outbox.enqueue(ensure_items(INCIDENTS[0])[:1])
    world.sn_faults.add(FaultRule("POST", r"^/api/now/table/incident$", status=429, retry_after=1, times=1))
    relay = OutboxRelay(outbox, world.tickets(), None, lambda _incident: None)
    assert relay.run_once(target="servicenow") == 1
    assert world.sleeps == [1.0] and len(world.sn_incidents(INCIDENTS[0])) == 1
