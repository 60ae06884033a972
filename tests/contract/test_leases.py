"""Leader leases (SqlLeaseStore) and the elector built on them, on SQLite and PostgreSQL.

What must hold with several replicas on one database: one holder at a time (also when replicas race), a lease
is taken over only once it has expired or was released, and a holder stops acting before its lease runs out.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from oncall_agent.coordination.leader import LeaderElector, holder_id
from oncall_agent.store.engine import make_engine
from oncall_agent.store.leases import SqlLeaseStore
from oncall_agent.store.migrate import upgrade
from tests.contract.store_fixtures import T0, Clock

TTL = timedelta(seconds=15)


@pytest.fixture()
def engine(store_url: str) -> Iterator[sa.Engine]:
    upgrade(store_url)
    engine = make_engine(store_url, pool_size=10) if "postgresql" in store_url else make_engine(store_url)
    yield engine
    engine.dispose()


def test_the_holder_renews_and_another_takes_over_only_after_expiry(engine: sa.Engine) -> None:
    clock = Clock()
    store = SqlLeaseStore(engine, clock)
    assert store.acquire("poller", "a", TTL) == T0 + TTL
    assert store.acquire("poller", "b", TTL) is None
    clock.at = T0 + timedelta(seconds=10)
    assert store.acquire("poller", "a", TTL) == T0 + timedelta(seconds=25)
    clock.at = T0 + timedelta(seconds=24)
    assert store.acquire("poller", "b", TTL) is None  # a's renewal moved the expiry
    assert store.acquire("reaper", "b", TTL) is not None  # leases are independent by name
    clock.at = T0 + timedelta(seconds=25)
    assert store.acquire("poller", "b", TTL) == T0 + timedelta(seconds=40)
    rows = {row.name: row for row in store.current()}
    assert (rows["poller"].holder, rows["poller"].acquired_at) == ("b", T0 + timedelta(seconds=25))
    assert store.acquire("poller", "a", TTL) is None


def test_a_renewal_keeps_the_tenure_start(engine: sa.Engine) -> None:
    clock = Clock()
    store = SqlLeaseStore(engine, clock)
    store.acquire("poller", "a", TTL)
    clock.at = T0 + timedelta(seconds=5)
    store.acquire("poller", "a", TTL)
    (row,) = store.current()
    assert (row.acquired_at, row.renewed_at, row.expires_at) == (T0, clock.at, clock.at + TTL)


def test_release_hands_over_at_once_and_only_by_the_holder(engine: sa.Engine) -> None:
    clock = Clock()
    store = SqlLeaseStore(engine, clock)
    store.acquire("poller", "a", TTL)
    assert store.release("poller", "b") is False
    assert store.acquire("poller", "b", TTL) is None
    assert store.release("poller", "a") is True
    assert store.acquire("poller", "b", TTL) == T0 + TTL


@pytest.mark.parametrize("existing", [False, True], ids=["insert", "update-expired"])
def test_replicas_racing_for_a_lease_give_one_holder(engine: sa.Engine, existing: bool) -> None:
    clock = Clock()
    store = SqlLeaseStore(engine, clock)
    if existing:  # an expired row: the racers go through the conditional UPDATE, not the INSERT
        store.acquire("poller", "old", TTL)
        clock.at = T0 + TTL
    start = threading.Barrier(8)
    won: list[str] = []

    def race(holder: str) -> None:
        start.wait()
        if store.acquire("poller", holder, TTL) is not None:
            won.append(holder)

    threads = [threading.Thread(target=race, args=(f"r{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1, won
    assert [row.holder for row in store.current()] == won


class Ticks:
    """A settable monotonic clock for the elector."""

    def __init__(self) -> None:
        self.at = 100.0

    def __call__(self) -> float:
        return self.at


class FlakyStore:
    """The real store, with a switch that makes every call fail like a database that went away."""

    def __init__(self, store: SqlLeaseStore) -> None:
        self.store = store
        self.down = False

    def acquire(self, name: str, holder: str, ttl: timedelta) -> object:
        if self.down:
            raise ConnectionError("database unreachable")
        return self.store.acquire(name, holder, ttl)

    def release(self, name: str, holder: str) -> bool:
        return self.store.release(name, holder)


def test_only_the_leader_runs_the_job_and_it_stops_before_its_lease_can_be_taken(engine: sa.Engine) -> None:
    clock, ticks = Clock(), Ticks()
    flaky = FlakyStore(SqlLeaseStore(engine, clock))
    a = LeaderElector(flaky, "a", TTL, 5, ticks)  # type: ignore[arg-type]
    b = LeaderElector(SqlLeaseStore(engine, clock), "b", TTL, 5, ticks)
    ran: list[str] = []
    jobs = {
        "a": a.run_if_leader("poller", lambda: ran.append("a")),
        "b": b.run_if_leader("poller", lambda: ran.append("b")),
    }
    a.tick()
    b.tick()
    jobs["a"]()
    jobs["b"]()
    assert ran == ["a"]
    # The database goes away for a: it keeps acting only until ttl - renew_every after its last renewal (10 s),
    # well before its lease (15 s) lets b in.
    flaky.down = True
    ticks.at += 9.9
    a.tick()
    assert a.is_leader("poller")
    ticks.at += 0.2
    assert not a.is_leader("poller")
    clock.at = T0 + timedelta(seconds=14)
    b.tick()
    assert not b.is_leader("poller")
    clock.at = T0 + TTL
    b.tick()
    assert b.is_leader("poller")
    ran.clear()
    jobs["a"]()
    jobs["b"]()
    assert ran == ["b"]


def test_stop_releases_and_the_next_replica_is_told_it_leads(engine: sa.Engine) -> None:
    clock, ticks = Clock(), Ticks()
    a = LeaderElector(SqlLeaseStore(engine, clock), holder_id(), TTL, 5, ticks)
    b = LeaderElector(SqlLeaseStore(engine, clock), holder_id(), TTL, 5, ticks)
    acquired: list[str] = []
    a.want("poller")
    b.want("poller", on_acquired=lambda: acquired.append("b"))
    a.tick()
    b.tick()
    assert a.is_leader("poller") and not b.is_leader("poller") and acquired == []
    a.stop()
    assert not a.is_leader("poller")
    clock.at = T0 + timedelta(seconds=1)
    b.tick()
    b.tick()  # a renewal is not a new tenure: the hook runs once
    assert b.is_leader("poller") and acquired == ["b"]
    assert a.holder != b.holder


def test_renewal_must_fit_in_the_ttl(engine: sa.Engine) -> None:
    with pytest.raises(ValueError, match="at least twice"):
        LeaderElector(SqlLeaseStore(engine, Clock()), "a", TTL, 8)
