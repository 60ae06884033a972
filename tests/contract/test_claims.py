"""Incident claims (SqlInvestigationStore) and the investigation worker's heartbeat, on SQLite and PostgreSQL.

A dead worker's incident is claimed again once its short lease runs out; a live worker whose graph step takes
much longer than the lease keeps its incident, because its heartbeat renews the claim.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest
import sqlalchemy as sa
from opentelemetry import trace

from oncall_agent.investigation.worker import InvestigationWorker
from oncall_agent.store.investigations import SqlInvestigationStore
from oncall_agent.store.tables import incidents
from tests.contract.store_fixtures import T0, Clock, engine_with_incidents

LEASE = timedelta(seconds=15)
NO_TRACER = trace.NoOpTracer()


@pytest.fixture()
def engine(store_url: str) -> Iterator[sa.Engine]:
    yield from engine_with_incidents(store_url)


def test_a_dead_workers_incident_is_claimed_again_once_its_lease_runs_out(engine: sa.Engine) -> None:
    clock = Clock()
    store = SqlInvestigationStore(engine, clock)
    first, second = store.claim_next("w1", LEASE), store.claim_next("w2", LEASE)
    assert first is not None and second is not None
    assert {first.incident_id, second.incident_id} == {"inc-1", "inc-2"}
    assert store.claim_next("w3", LEASE) is None
    clock.at = T0 + timedelta(seconds=10)
    assert store.renew(first.incident_id, "w1", LEASE)  # w1 is alive; w2 died right after claiming
    clock.at = T0 + timedelta(seconds=14)
    assert store.claim_next("w3", LEASE) is None
    clock.at = T0 + LEASE + timedelta(seconds=1)
    taken = store.claim_next("w3", LEASE)
    assert taken is not None and (taken.incident_id, taken.mode) == (second.incident_id, "recover")
    assert store.claim_next("w4", LEASE) is None  # w1's renewed claim holds until T0 + 25 s
    assert not store.renew(second.incident_id, "w2", LEASE)  # the old holder learns it lost the claim


def test_a_dead_workers_incident_comes_before_new_ones(engine: sa.Engine) -> None:
    with engine.begin() as connection:  # an older alarm storm: new incidents opened before the orphaned ones
        row = connection.execute(sa.select(incidents).where(incidents.c.id == "inc-1")).mappings().one()
        for n in range(3):
            connection.execute(
                sa.insert(incidents).values(
                    {**row, "id": f"new-{n}", "status": "open", "opened_at": T0 - timedelta(minutes=5)}
                )
            )
    store = SqlInvestigationStore(engine, Clock())
    claims = [store.claim_next(f"w{n}", LEASE) for n in range(5)]
    order = [(c.mode, c.incident_id) for c in claims if c is not None]
    assert [mode for mode, _ in order] == ["recover", "recover", "start", "start", "start"]
    assert {i for _, i in order[:2]} == {"inc-1", "inc-2"}


class SlowGraph:
    """A graph whose one step takes `seconds` (a slow evidence source, an LLM call), then fails. Failing keeps
    the claim for the rest of its lease (no release), so a thief polling up to the very end cannot mistake an
    incident released after the step for one stolen during it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.running = threading.Event()

    def get_state(self, config: dict[str, Any]) -> Any:
        return SimpleNamespace(values={})

    def invoke(self, value: Any, config: dict[str, Any]) -> None:
        self.running.set()
        time.sleep(self.seconds)
        raise RuntimeError("the step failed after its work")


def steal_while_running(store: SqlInvestigationStore, worker: threading.Thread, lease: timedelta) -> list[str]:
    stolen = []
    while worker.is_alive():
        claim = store.claim_next("thief", lease)
        if claim is not None:
            stolen.append(claim.incident_id)
        time.sleep(0.1)
    return stolen


def claimed_by(engine: sa.Engine, incident_id: str) -> str | None:
    with engine.connect() as connection:
        return connection.execute(sa.select(incidents.c.claimed_by).where(incidents.c.id == incident_id)).scalar()


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def test_a_live_slow_step_keeps_its_incident_through_heartbeats(engine: sa.Engine) -> None:
    store = SqlInvestigationStore(engine, WallClock())
    with engine.begin() as connection:  # one incident to work on
        connection.execute(sa.delete(incidents).where(incidents.c.id == "inc-2"))
    lease = timedelta(seconds=1.5)  # heartbeat every 0.5 s; the step lasts more than two leases
    graph = SlowGraph(4.0)
    worker = InvestigationWorker(cast(Any, SimpleNamespace(results=store, tracer=NO_TRACER)), graph, "slow", lease)
    done: list[str | None] = []
    thread = threading.Thread(target=lambda: done.append(worker.run_once()))
    thread.start()
    assert graph.running.wait(5)
    stolen = steal_while_running(store, thread, lease)
    thread.join()
    assert done == ["inc-1"]
    assert stolen == []
    assert claimed_by(engine, "inc-1") == "slow"


class RenewFailsOnce:
    """The real store, whose first renewal fails like a dropped connection."""

    def __init__(self, store: SqlInvestigationStore) -> None:
        self.store = store
        self.failures = 1

    def claim_next(self, worker: str, lease: timedelta) -> Any:
        return self.store.claim_next(worker, lease)

    def release(self, incident_id: str, worker: str) -> None:
        self.store.release(incident_id, worker)

    def renew(self, incident_id: str, worker: str, lease: timedelta) -> bool:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("server closed the connection unexpectedly")
        return self.store.renew(incident_id, worker, lease)


def test_a_failed_heartbeat_is_retried_at_the_next_beat(engine: sa.Engine) -> None:
    store = SqlInvestigationStore(engine, WallClock())
    with engine.begin() as connection:
        connection.execute(sa.delete(incidents).where(incidents.c.id == "inc-2"))
    lease = timedelta(seconds=3)  # beats at 1 s (fails), 2 s, 3 s, 4 s: one missed beat leaves 1 s to spare
    flaky = RenewFailsOnce(store)
    graph = SlowGraph(5.0)
    worker = InvestigationWorker(cast(Any, SimpleNamespace(results=flaky, tracer=NO_TRACER)), graph, "slow", lease)
    thread = threading.Thread(target=worker.run_once)
    thread.start()
    assert graph.running.wait(5)  # the worker holds the claim: a thief polling before that would simply win it
    stolen = steal_while_running(store, thread, lease)
    thread.join()
    assert flaky.failures == 0 and stolen == []
    assert claimed_by(engine, "inc-1") == "slow"
