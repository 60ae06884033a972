"""An alarm storm through the store and the grouper, on SQLite and PostgreSQL: 1,000 deliveries, 20 alarms.

The expected result follows from how the storm is built, not from re-running the grouping rules:

- 5 services x 4 alarms, each service identified a different way (prefix, tag, pattern, ECS, Lambda).
- Two bursts a day apart (far beyond the 30-minute window); within a burst every ALARM of a service falls in
  a 22-minute span, so each burst is exactly one incident per service. Between bursts every alarm has gone OK
  and the incidents are resolved, so the second burst opens 5 new incidents.
- Each alarm flaps 6 times per burst (ALARM then OK), and each of those 12 state changes is delivered twice
  (SNS and EventBridge, different message ids): 24 deliveries. Then one older, never-seen ALARM arrives late
  (poll): stale. 25 deliveries x 20 alarms x 2 bursts = 1,000; 13 x 40 = 520 unique events; 480 duplicates.
- Deliveries are shuffled across alarms and services; each alarm's own state changes keep their order (a
  channel may repeat or delay, but a state change never arrives before the one it follows except the late
  one, which is the stale case). One thread appends while three grouper "replicas" drain the queue.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from oncall_agent.domain.alarm import AlarmEvent, AlarmState, EventChannel, MetricSpec
from oncall_agent.domain.catalog import EcsTarget, LambdaTarget, Service
from oncall_agent.domain.grouping import GroupingOutcome
from oncall_agent.domain.incident import Incident, IncidentStatus
from oncall_agent.intake.grouping import Grouper
from oncall_agent.ports import GroupedEvent
from oncall_agent.store.engine import make_engine
from oncall_agent.store.incident_store import SqlIncidentStore
from oncall_agent.store.migrate import upgrade
from oncall_agent.store.tables import alarm_events

pytestmark = pytest.mark.slow

BASE = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=30)
CYCLES = 6
FLAP = timedelta(minutes=4)  # one ALARM -> OK cycle
OK_AFTER = timedelta(minutes=2)
ALARM_STAGGER = timedelta(seconds=30)
REPLICAS = 3

CATALOG = [
    Service(name="checkout"),
    Service(name="payments"),
    Service(name="search", alarm_patterns=["es-*"]),
    Service(name="orders", ecs=EcsTarget(cluster="prod", service="orders-svc")),
    Service(name="thumbnails", **{"lambda": LambdaTarget(function="make-thumbnail")}),
]


@dataclass(frozen=True)
class Alarm:
    service: str
    index: int  # 0..3 within its service
    name: str
    tags: dict[str, str]
    metric: MetricSpec | None

    @property
    def arn(self) -> str:
        return f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{self.name}"


def _alarms() -> list[Alarm]:
    ecs = {"ClusterName": "prod", "ServiceName": "orders-svc"}
    lam = {"FunctionName": "make-thumbnail"}
    alarms = []
    for i, suffix in enumerate(["5xx", "latency", "cpu", "memory"]):
        ecs_metric = MetricSpec(namespace="AWS/ECS", name=suffix, dimensions=ecs)
        lambda_metric = MetricSpec(namespace="AWS/Lambda", name=suffix, dimensions=lam)
        alarms += [
            Alarm("checkout", i, f"checkout-{suffix}", {}, None),  # by name prefix
            Alarm("payments", i, f"gateway-{suffix}", {"service": "payments"}, None),  # by tag
            Alarm("search", i, f"es-{suffix}", {}, None),  # by pattern
            Alarm("orders", i, f"ecs-{suffix}", {}, ecs_metric),
            Alarm("thumbnails", i, f"fn-{suffix}", {}, lambda_metric),
        ]
    return alarms


ALARMS = _alarms()
SERVICES = [s.name for s in CATALOG]


def burst_start(burst: int, service: str) -> datetime:
    # Services overlap in time (one minute apart) so their events interleave.
    return BASE + timedelta(days=burst) + timedelta(minutes=SERVICES.index(service))


def alarm_at(burst: int, alarm: Alarm, cycle: int) -> datetime:
    return burst_start(burst, alarm.service) + cycle * FLAP + alarm.index * ALARM_STAGGER


def event(alarm: Alarm, state: AlarmState, at: datetime, channel: EventChannel) -> AlarmEvent:
    message_id = None if channel is EventChannel.POLL else f"{channel.value}:{alarm.name}:{state.value}:{at}"
    return AlarmEvent(
        channel=channel,
        channel_message_id=message_id,
        region="eu-west-1",
        alarm_arn=alarm.arn,
        alarm_name=alarm.name,
        new_state=state,
        state_timestamp=at,
        tags=alarm.tags,
        metric=alarm.metric,
    )


def deliveries(burst: int, alarm: Alarm, rng: random.Random) -> list[AlarmEvent]:
    """One alarm's deliveries in a burst, in its own order: 6 x (ALARM, OK), each by SNS and EventBridge."""
    out = []
    for cycle in range(CYCLES):
        at = alarm_at(burst, alarm, cycle)
        for state, when in ((AlarmState.ALARM, at), (AlarmState.OK, at + OK_AFTER)):
            channels = [EventChannel.SNS, EventChannel.EVENTBRIDGE]
            rng.shuffle(channels)  # either copy may be the first to arrive
            out += [event(alarm, state, when, channel) for channel in channels]
    return out


def storm(burst: int, rng: random.Random) -> list[AlarmEvent]:
    """A random interleaving of every alarm's deliveries, then the late (stale) ones in random order."""
    queues = [deliveries(burst, alarm, rng) for alarm in ALARMS]
    stream: list[AlarmEvent] = []
    while any(queues):
        pending = [q for q in queues if q]
        # Weighted by what is left: every interleaving equally likely.
        chosen = rng.choices(pending, weights=[len(q) for q in pending])[0]
        stream.append(chosen.pop(0))
    late = [event(a, AlarmState.ALARM, alarm_at(burst, a, 0) - timedelta(minutes=1), EventChannel.POLL) for a in ALARMS]
    rng.shuffle(late)
    return stream + late


def run_burst(url: str, store: SqlIncidentStore, stream: list[AlarmEvent]) -> list[GroupedEvent]:
    """Append `stream` from one thread while REPLICAS groupers (own engine each) drain the queue."""
    appended = threading.Event()

    def replica(_: int) -> list[GroupedEvent]:
        engine = make_engine(url)
        grouper = Grouper(SqlIncidentStore(engine), CATALOG, WINDOW)
        done: list[GroupedEvent] = []
        try:
            while True:
                finished = appended.is_set()  # read before the batch: an empty batch after it means done
                batch = grouper.run_once(limit=20)
                done += batch
                if not batch:
                    if finished:
                        return done
                    time.sleep(0.002)
        finally:
            engine.dispose()

    with ThreadPoolExecutor(REPLICAS) as pool:
        futures = [pool.submit(replica, i) for i in range(REPLICAS)]
        for delivery in stream:
            store.append_event(delivery)
        appended.set()
        return [grouped for future in futures for grouped in future.result()]


def check_burst(burst: int, incidents: list[Incident]) -> None:
    """One incident per service holding its 4 alarms, all recovered, with onset and last alarm as built."""
    assert sorted(i.service for i in incidents) == sorted(SERVICES)
    for incident in incidents:
        own = [a for a in ALARMS if a.service == incident.service]
        assert incident.fingerprint == f"service:{incident.service}"
        assert {a.alarm_arn: a.state for a in incident.alarms} == {a.arn: AlarmState.OK for a in own}
        assert {a.alarm_arn: a.state_timestamp for a in incident.alarms} == {
            a.arn: alarm_at(burst, a, CYCLES - 1) + OK_AFTER for a in own
        }
        assert incident.first_event_at == burst_start(burst, incident.service)
        assert incident.last_event_at == alarm_at(burst, own[-1], CYCLES - 1)
        kinds = Counter(entry.kind for entry in incident.timeline)
        assert (kinds["alarm"], kinds["recovery"]) == (4 * CYCLES, 4 * CYCLES)
        assert kinds["all_recovered"] >= 1


@pytest.fixture()
def store(store_url: str) -> Iterator[SqlIncidentStore]:
    upgrade(store_url)
    engine = make_engine(store_url)
    yield SqlIncidentStore(engine)
    engine.dispose()


def test_alarm_storm_groups_into_the_expected_incidents(store_url: str, store: SqlIncidentStore) -> None:
    rng = random.Random(20240603)
    first_ids: set[str] = set()
    outcomes: Counter[GroupingOutcome] = Counter()
    for burst in (0, 1):
        stream = storm(burst, rng)
        assert len(stream) == 500
        grouped = run_burst(store_url, store, stream)
        outcomes.update(g.decision.outcome for g in grouped)
        assert len({g.event_id for g in grouped}) == len(grouped) == 260  # each event grouped exactly once

        active = store.list_incidents([IncidentStatus.OPEN])
        check_burst(burst, active)
        assert not first_ids & {i.id for i in active}  # the second burst never reopens the first's incidents
        for incident in active:
            for status in (IncidentStatus.INVESTIGATING, IncidentStatus.MONITORING, IncidentStatus.RESOLVED):
                store.set_status(incident.id, status, "storm test")
        first_ids |= {i.id for i in active}

    assert len(store.list_incidents([IncidentStatus.RESOLVED])) == len(store.list_incidents()) == 10
    assert store.event_counts() == {"events": 520, "duplicates": 480, "ungrouped": 0}
    assert outcomes == {
        GroupingOutcome.CREATE: 10,
        GroupingOutcome.JOIN: 230,
        GroupingOutcome.RECOVER: 240,
        GroupingOutcome.STALE: 40,
    }
    assert _stored_deliveries(store.engine) == {2: 480, 1: 40}


def _stored_deliveries(engine: sa.Engine) -> dict[Any, int]:
    """How many stored events were delivered once / twice (the late ones once, every other one twice)."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(alarm_events.c.deliveries, sa.func.count()).group_by(alarm_events.c.deliveries)
        ).all()
    return {row[0]: row[1] for row in rows}
