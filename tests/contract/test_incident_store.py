"""Contract of ports.IncidentStore as SqlIncidentStore implements it, on SQLite and on PostgreSQL alike.

Every test runs once per database (conftest's `store_url`). Schema, engine and error translation are in
test_store_schema.py.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from oncall_agent.domain.alarm import AlarmEvent, AlarmState, EventChannel
from oncall_agent.domain.catalog import Service
from oncall_agent.domain.errors import InvalidTransition, StoreError
from oncall_agent.domain.evidence import Category
from oncall_agent.domain.grouping import GroupingDecision, GroupingOutcome, OpenIncidentView
from oncall_agent.domain.incident import IncidentStatus, Resolution
from oncall_agent.intake.grouping import Grouper
from oncall_agent.ports import AppendResult
from oncall_agent.store.engine import make_engine
from oncall_agent.store.group_commit import append_batch
from oncall_agent.store.incident_store import SqlIncidentStore
from oncall_agent.store.migrate import upgrade
from oncall_agent.store.tables import alarm_events

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CATALOG = [Service(name="checkout"), Service(name="payments")]
WINDOW = timedelta(minutes=15)
S = IncidentStatus
Out = GroupingOutcome


def alarm(
    name: str = "checkout-5xx",
    state: AlarmState = AlarmState.ALARM,
    at: datetime = T0,
    channel: EventChannel = EventChannel.SNS,
    message_id: str | None = "auto",
    reason: str = "Threshold Crossed",
) -> AlarmEvent:
    if message_id == "auto":  # one message per state change and channel, as the channels do
        message_id = f"{channel.value}-{name}-{state.value}-{at.timestamp()}"
    return AlarmEvent(
        channel=channel,
        channel_message_id=message_id,
        region="us-east-1",
        alarm_arn=f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}",
        alarm_name=name,
        new_state=state,
        state_timestamp=at,
        reason=reason,
    )


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.now_value = now

    def now(self) -> datetime:
        return self.now_value


@pytest.fixture()
def engine(store_url: str) -> Iterator[sa.Engine]:
    upgrade(store_url)
    engine = make_engine(store_url)
    yield engine
    engine.dispose()


@pytest.fixture()
def store(engine: sa.Engine) -> SqlIncidentStore:
    return SqlIncidentStore(engine, FixedClock(T0 + timedelta(hours=1)))


def group(store: SqlIncidentStore, limit: int = 100) -> list[tuple[GroupingOutcome, str | None]]:
    grouped = Grouper(store, CATALOG, WINDOW).run_once(limit)
    return [(g.decision.outcome, g.decision.incident_id) for g in grouped]


# --- append and deduplication ---------------------------------------------------------------------------


def test_same_event_twice_is_stored_once(store: SqlIncidentStore) -> None:
    first = store.append_event(alarm())
    again = store.append_event(alarm())
    assert not first.duplicate
    assert again.duplicate
    assert again.event_id == first.event_id
    assert store.event_counts() == {"events": 1, "duplicates": 1, "ungrouped": 1}


def test_same_state_change_from_other_channels_is_a_duplicate(store: SqlIncidentStore) -> None:
    original = store.append_event(alarm(channel=EventChannel.SNS, message_id="sns-1"))
    via_eventbridge = store.append_event(alarm(channel=EventChannel.EVENTBRIDGE, message_id="eb-9"))
    via_poll = store.append_event(alarm(channel=EventChannel.POLL, message_id=None))
    assert via_eventbridge == via_poll
    assert via_poll.duplicate
    assert via_poll.event_id == original.event_id


def test_same_message_id_with_other_content_is_a_duplicate(store: SqlIncidentStore) -> None:
    original = store.append_event(alarm(message_id="sns-1"))
    redelivered = store.append_event(alarm(message_id="sns-1", at=T0 + timedelta(seconds=30)))
    assert redelivered.duplicate
    assert redelivered.event_id == original.event_id


def test_distinct_state_changes_are_distinct_events(store: SqlIncidentStore) -> None:
    a = store.append_event(alarm(at=T0))
    b = store.append_event(alarm(at=T0 + timedelta(minutes=1)))
    c = store.append_event(alarm(state=AlarmState.OK, at=T0 + timedelta(minutes=1)))
    assert not (a.duplicate or b.duplicate or c.duplicate)
    assert len({a.event_id, b.event_id, c.event_id}) == 3


def test_deliveries_are_counted_per_event(store: SqlIncidentStore) -> None:
    for _ in range(3):
        store.append_event(alarm(name="checkout-5xx"))
    store.append_event(alarm(name="checkout-latency"))
    store.append_event(alarm(name="checkout-latency", channel=EventChannel.POLL, message_id=None))
    assert store.event_counts() == {"events": 2, "duplicates": 3, "ungrouped": 2}


def test_concurrent_appends_of_the_same_events_store_each_once(engine: sa.Engine) -> None:
    stores = [SqlIncidentStore(engine) for _ in range(8)]
    changes = [(f"svc{i % 5}-alarm{i % 7}", T0 + timedelta(seconds=i)) for i in range(50)]
    start = threading.Barrier(len(stores))

    def deliver(worker: int) -> list[bool]:
        # Half the workers are SNS, half EventBridge: same state changes, different message ids.
        channel = EventChannel.SNS if worker % 2 else EventChannel.EVENTBRIDGE
        order = changes[:]
        random.Random(worker).shuffle(order)
        start.wait()
        return [stores[worker].append_event(alarm(n, at=t, channel=channel)).duplicate for n, t in order]

    with ThreadPoolExecutor(len(stores)) as pool:
        results = [flag for flags in pool.map(deliver, range(len(stores))) for flag in flags]
    assert results.count(False) == 50
    assert stores[0].event_counts() == {"events": 50, "duplicates": 350, "ungrouped": 50}


# --- grouping ---------------------------------------------------------------------------------------------


def test_grouping_creates_joins_and_recovers(store: SqlIncidentStore) -> None:
    store.append_event(alarm("checkout-5xx", at=T0))
    store.append_event(alarm("checkout-latency", at=T0 + timedelta(minutes=2)))
    store.append_event(alarm("checkout-5xx", AlarmState.OK, at=T0 + timedelta(minutes=5)))
    store.append_event(alarm("checkout-latency", AlarmState.OK, at=T0 + timedelta(minutes=6)))

    decided = group(store)

    incident_id = decided[0][1]
    assert decided == [
        (Out.CREATE, incident_id),
        (Out.JOIN, incident_id),
        (Out.RECOVER, incident_id),
        (Out.RECOVER, incident_id),
    ]
    incident = store.get_incident(str(incident_id))
    assert incident is not None
    assert (incident.service, incident.fingerprint) == ("checkout", "service:checkout")
    assert incident.status is S.OPEN  # recovery alone never resolves: that is the investigation's call
    assert (incident.first_event_at, incident.last_event_at) == (T0, T0 + timedelta(minutes=2))
    assert {a.alarm_name: a.state for a in incident.alarms} == {
        "checkout-5xx": AlarmState.OK,
        "checkout-latency": AlarmState.OK,
    }
    assert [e.kind for e in incident.timeline] == ["alarm", "alarm", "recovery", "recovery", "all_recovered"]
    assert incident.timeline[0].data["event_id"] == 1
    assert store.event_counts()["ungrouped"] == 0
    assert group(store) == []


def test_an_earlier_alarm_joining_late_moves_the_onset_back(store: SqlIncidentStore) -> None:
    store.append_event(alarm("checkout-latency", at=T0 + timedelta(minutes=4)))
    store.append_event(alarm("checkout-5xx", at=T0))  # fired first, delivered second
    (_, incident_id), (outcome, joined) = group(store)
    assert (outcome, joined) == (Out.JOIN, incident_id)
    incident = store.get_incident(str(incident_id))
    assert incident is not None
    assert (incident.first_event_at, incident.last_event_at) == (T0, T0 + timedelta(minutes=4))


def test_grouping_records_stale_notes_and_unowned_recoveries(store: SqlIncidentStore) -> None:
    store.append_event(alarm("payments-errors", AlarmState.OK, at=T0))
    store.append_event(alarm("payments-errors", at=T0 + timedelta(minutes=3)))
    store.append_event(alarm("payments-errors", at=T0 + timedelta(minutes=1)))  # delivered late
    store.append_event(alarm("payments-errors", AlarmState.INSUFFICIENT_DATA, at=T0 + timedelta(minutes=4)))

    decided = group(store)

    incident_id = decided[1][1]
    assert decided == [
        (Out.RECORD, None),
        (Out.CREATE, incident_id),
        (Out.STALE, incident_id),
        (Out.NOTE, incident_id),
    ]
    incident = store.get_incident(str(incident_id))
    assert incident is not None
    assert [e.kind for e in incident.timeline] == ["alarm", "alarm_state"]
    assert incident.alarms[0].state is AlarmState.ALARM
    assert incident.alarms[0].state_timestamp == T0 + timedelta(minutes=3)


def test_grouping_separates_services_windows_and_resolved_incidents(store: SqlIncidentStore) -> None:
    store.append_event(alarm("checkout-5xx", at=T0))
    store.append_event(alarm("payments-errors", at=T0 + timedelta(minutes=1)))
    store.append_event(alarm("checkout-latency", at=T0 + WINDOW + timedelta(minutes=1)))  # outside the window
    first = group(store)
    assert [outcome for outcome, _ in first] == [Out.CREATE, Out.CREATE, Out.CREATE]
    assert len({incident for _, incident in first}) == 3

    store.set_status(str(first[0][1]), S.RESOLVED, "fixed")
    store.append_event(alarm("checkout-5xx", at=T0 + WINDOW + timedelta(minutes=5)))
    ((outcome, incident_id),) = group(store)
    assert outcome is Out.JOIN  # joins the open checkout incident nearby, never the resolved one it was in
    assert incident_id == first[2][1]


def test_grouping_honours_limit_and_arrival_order(store: SqlIncidentStore) -> None:
    events = [alarm(f"checkout-a{i}", at=T0 + timedelta(seconds=i)) for i in range(5)]
    ids = [store.append_event(e).event_id for e in events]
    grouper = Grouper(store, CATALOG, WINDOW)
    assert [g.event_id for g in grouper.run_once(limit=2)] == ids[:2]
    assert [g.event_id for g in grouper.run_once(limit=10)] == ids[2:]


def test_concurrent_groupers_open_one_incident_per_service(engine: sa.Engine) -> None:
    writer = SqlIncidentStore(engine)
    for i in range(40):
        service = "checkout" if i % 2 else "payments"
        writer.append_event(alarm(f"{service}-alarm{(i // 2) % 6}", at=T0 + timedelta(seconds=10 * i)))
    replicas = [Grouper(SqlIncidentStore(engine), CATALOG, WINDOW) for _ in range(4)]
    start = threading.Barrier(len(replicas))

    def drain(grouper: Grouper) -> int:
        start.wait()
        done = 0
        while batch := grouper.run_once(limit=3):
            done += len(batch)
        return done

    with ThreadPoolExecutor(len(replicas)) as pool:
        assert sum(pool.map(drain, replicas)) == 40
    incidents = writer.list_incidents()
    assert sorted(i.service for i in incidents) == ["checkout", "payments"]
    assert all(len(i.alarms) == 6 for i in incidents)


# --- lifecycle and reads ------------------------------------------------------------------------------


@pytest.fixture()
def incident_id(store: SqlIncidentStore) -> str:
    store.append_event(alarm())
    ((_, created),) = group(store)
    assert created is not None
    return created


def test_set_status_walks_the_lifecycle_and_logs_it(store: SqlIncidentStore, incident_id: str) -> None:
    path = [S.INVESTIGATING, S.AWAITING_APPROVAL, S.MITIGATING, S.MONITORING, S.RESOLVED, S.CLOSED]
    for status in path:
        assert store.set_status(incident_id, status, f"to {status.value}").status is status
    incident = store.get_incident(incident_id)
    assert incident is not None
    status_entries = [e for e in incident.timeline if e.kind == "status"]
    assert [e.data["to"] for e in status_entries] == [s.value for s in path]
    assert status_entries[0].message == "status open -> investigating: to investigating"


def test_set_status_refuses_illegal_transitions(store: SqlIncidentStore, incident_id: str) -> None:
    store.set_status(incident_id, S.RESOLVED, "recovered")
    with pytest.raises(InvalidTransition):
        store.set_status(incident_id, S.INVESTIGATING, "reopen")
    incident = store.set_status(incident_id, S.RESOLVED, "retried request")  # same status: no-op
    assert incident.status is S.RESOLVED
    assert [e.kind for e in incident.timeline].count("status") == 1
    with pytest.raises(StoreError):
        store.set_status("inc-missing", S.RESOLVED, "")


def test_list_and_get_incidents(store: SqlIncidentStore, incident_id: str) -> None:
    store.append_event(alarm("payments-errors"))
    group(store)
    store.set_status(incident_id, S.INVESTIGATING, "")
    assert [i.id for i in store.list_incidents([S.INVESTIGATING])] == [incident_id]
    assert {i.service for i in store.list_incidents()} == {"checkout", "payments"}
    assert {i.service for i in store.list_incidents([S.OPEN, S.INVESTIGATING])} == {"checkout", "payments"}
    assert store.list_incidents([S.CLOSED]) == []
    assert store.get_incident("inc-missing") is None


def test_timestamps_round_trip_as_aware_utc(store: SqlIncidentStore) -> None:
    local = datetime(2024, 5, 1, 17, 30, 0, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    store.append_event(alarm(at=local))
    ((_, created),) = group(store)
    incident = store.get_incident(str(created))
    assert incident is not None
    for moment in (incident.first_event_at, incident.alarms[0].state_timestamp, incident.timeline[0].at):
        assert moment == local
        assert moment.utcoffset() == timedelta(0)
        assert moment.hour == 12


# --- quarantine ---------------------------------------------------------------------------------------------


def test_an_event_that_breaks_the_rule_is_quarantined_and_the_queue_moves_on(store: SqlIncidentStore) -> None:
    store.append_event(alarm("checkout-5xx"))
    store.append_event(alarm("checkout-latency", at=T0 + timedelta(seconds=5)))

    def rule(event: AlarmEvent, views: list[OpenIncidentView]) -> GroupingDecision:
        if event.alarm_name == "checkout-5xx":
            raise ValueError("rule bug")
        return Grouper(store, CATALOG, WINDOW).rule(event, views)

    first, second = store.group_pending(rule)
    assert first.decision.outcome is GroupingOutcome.QUARANTINED
    assert first.detail == "ValueError: rule bug" and first.alarm_name == "checkout-5xx"
    assert second.decision.outcome is GroupingOutcome.CREATE
    assert store.event_counts() == {"events": 2, "duplicates": 0, "ungrouped": 0}


def test_an_unreadable_stored_payload_is_quarantined(store: SqlIncidentStore, engine: sa.Engine) -> None:
    bad = store.append_event(alarm("checkout-5xx")).event_id
    store.append_event(alarm("checkout-latency", at=T0 + timedelta(seconds=5)))
    with engine.begin() as connection:
        connection.execute(
            sa.update(alarm_events).where(alarm_events.c.id == bad).values(payload={"alarm_name": "checkout-5xx"})
        )
    outcomes = group(store)
    assert outcomes[0] == (GroupingOutcome.QUARANTINED, None)
    assert outcomes[1][0] is GroupingOutcome.CREATE


# --- incident memory ----------------------------------------------------------------------------------------


def test_past_incidents_are_remembered_once_with_their_resolution(store: SqlIncidentStore) -> None:
    resolution = Resolution(category=Category.DEPLOY, culprit="checkout:37", summary="rolled back to checkout:36")
    opened = T0 - timedelta(days=20)
    first = store.record_past_incident(
        service="checkout", title="5xx after deploy", opened_at=opened, resolution=resolution
    )
    again = store.record_past_incident(
        service="checkout", title="5xx after deploy", opened_at=opened, resolution=resolution
    )
    assert first == again
    (past,) = store.list_incidents([S.CLOSED])
    assert past.id == first and past.title == "5xx after deploy" and past.resolution == resolution
    assert past.first_event_at == opened
    assert [e.kind for e in past.timeline] == ["history"]
    # Memory is not an active incident: a new alarm of that service opens a new one.
    store.append_event(alarm("checkout-5xx"))
    assert group(store)[0][0] is GroupingOutcome.CREATE


# --- group commit (SQLite's batched appends; the batch function is dialect-neutral) -------------------------


def test_a_batch_dedups_against_the_store_and_within_itself(store: SqlIncidentStore, engine: sa.Engine) -> None:
    stored = store.append_event(alarm("checkout-5xx")).event_id
    redelivered_elsewhere = alarm("checkout-5xx", channel=EventChannel.POLL, message_id=None)
    fresh = alarm("checkout-latency")
    fresh_again = alarm("checkout-latency", channel=EventChannel.EVENTBRIDGE)
    with engine.begin() as connection:
        results = append_batch(connection, [redelivered_elsewhere, fresh, fresh_again], T0)
    assert results[0] == AppendResult(stored, duplicate=True)
    assert not results[1].duplicate
    assert results[2] == AppendResult(results[1].event_id, duplicate=True)
    assert store.event_counts() == {"events": 2, "duplicates": 2, "ungrouped": 2}


def test_a_redelivery_sharing_keys_with_two_stored_events_counts_against_the_oldest(
    store: SqlIncidentStore, engine: sa.Engine
) -> None:
    older = store.append_event(alarm(at=T0, message_id="sns-1")).event_id
    newer = store.append_event(alarm(at=T0 + timedelta(minutes=1), message_id="sns-2")).event_id
    straddling = alarm(at=T0, message_id="sns-2")  # the newer one's message id, the older one's state change

    assert store.append_event(straddling) == AppendResult(older, duplicate=True)
    with engine.begin() as connection:
        assert append_batch(connection, [straddling], T0) == [AppendResult(older, duplicate=True)]
        rows = connection.execute(sa.select(alarm_events.c.id, alarm_events.c.deliveries))
        assert {row.id: row.deliveries for row in rows} == {older: 3, newer: 1}
