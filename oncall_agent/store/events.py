"""Alarm event rows: append with deduplication, delivery counters, the grouper's queue of ungrouped events.

Deduplication rests on the primary key of `event_keys`: every dedup key of an event is inserted in the same
transaction as the event, so two concurrent appends of the same event cannot both commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from oncall_agent.domain.alarm import AlarmEvent
from oncall_agent.domain.errors import StoreError
from oncall_agent.ports import AppendResult
from oncall_agent.store.tables import alarm_events, event_keys


def append_event(engine: Engine, event: AlarmEvent, received_at: datetime) -> AppendResult:
    """Store `event` unless one of its dedup keys is known; then count a delivery against the original.

    Pass the engine through `store.engine.writer`: on SQLite the lookup and the insert then run under the
    write lock, so the IntegrityError path below is only ever taken on PostgreSQL.
    """
    # Sorted: concurrent PostgreSQL transactions inserting overlapping key sets then wait on each other in
    # the same order instead of deadlocking.
    keys = sorted(set(event.dedup_keys()))
    try:
        with engine.begin() as connection:
            existing = _find_existing(connection, keys)
            if existing is not None:
                _count_delivery(connection, existing)
                return AppendResult(existing, duplicate=True)
            return AppendResult(insert_event(connection, event, keys, received_at), duplicate=False)
    except sa.exc.IntegrityError:
        # A concurrent append of the same event committed between our lookup and insert (PostgreSQL only:
        # SQLite's BEGIN IMMEDIATE serialises writers). Ours is rolled back; the winner's row is visible now.
        pass
    with engine.begin() as connection:
        existing = _find_existing(connection, keys)
        if existing is None:
            raise StoreError(f"event {keys[0]} conflicted on insert but no stored event has its keys")
        _count_delivery(connection, existing)
        return AppendResult(existing, duplicate=True)


def _find_existing(connection: Connection, keys: list[str]) -> int | None:
    # Several stored events can share keys with this one (e.g. its message id and its state change arrived
    # separately): the oldest is the original.
    query = sa.select(sa.func.min(event_keys.c.event_id)).where(event_keys.c.key.in_(keys))
    found = connection.execute(query).scalar_one_or_none()
    return int(found) if found is not None else None


def _count_delivery(connection: Connection, event_id: int) -> None:
    connection.execute(
        sa.update(alarm_events).where(alarm_events.c.id == event_id).values(deliveries=alarm_events.c.deliveries + 1)
    )


def insert_event(connection: Connection, event: AlarmEvent, keys: list[str], received_at: datetime) -> int:
    result = connection.execute(
        sa.insert(alarm_events)
        .values(
            received_at=received_at,
            channel=event.channel.value,
            channel_message_id=event.channel_message_id,
            alarm_arn=event.alarm_arn,
            alarm_name=event.alarm_name,
            new_state=event.new_state.value,
            state_timestamp=event.state_timestamp,
            payload=event.model_dump(mode="json"),
            deliveries=1,
            grouped=False,
        )
        .returning(alarm_events.c.id)
    )
    event_id = int(result.scalar_one())
    connection.execute(sa.insert(event_keys), [{"key": key, "event_id": event_id} for key in keys])
    return event_id


def event_counts(connection: Connection) -> dict[str, int]:
    """`events` stored, `duplicates` (deliveries beyond the first), `ungrouped` events still queued."""
    row = connection.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(alarm_events.c.deliveries - 1), 0),
            sa.func.coalesce(sa.func.sum(sa.case((alarm_events.c.grouped == sa.false(), 1), else_=0)), 0),
        )
    ).one()
    return {"events": int(row[0]), "duplicates": int(row[1]), "ungrouped": int(row[2])}


def next_ungrouped(connection: Connection, limit: int = 1) -> list[tuple[int, dict[str, Any]]]:
    """The oldest `limit` ungrouped events' ids and stored payloads, row-locked on PostgreSQL (SKIP LOCKED:
    another grouper holds them). The caller parses each payload, so a row that no longer parses can be
    quarantined."""
    rows = connection.execute(
        sa.select(alarm_events.c.id, alarm_events.c.payload)
        .where(alarm_events.c.grouped == sa.false())
        .order_by(alarm_events.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [(int(row.id), dict(row.payload)) for row in rows]


def pending(connection: Connection, limit: int) -> list[dict[str, Any]]:
    """The stored payloads of the oldest `limit` ungrouped events (no lock)."""
    rows = connection.execute(
        sa.select(alarm_events.c.payload)
        .where(alarm_events.c.grouped == sa.false())
        .order_by(alarm_events.c.id)
        .limit(limit)
    )
    return [dict(row.payload) for row in rows]


def mark_grouped_many(connection: Connection, marks: list[tuple[int, str | None, str]]) -> None:
    """Mark events grouped: (event id, the incident it now belongs to or None, the grouping outcome)."""
    if not marks:
        return
    connection.execute(
        sa.update(alarm_events)
        .where(alarm_events.c.id == sa.bindparam("event_id"))
        .values(grouped=True, incident_id=sa.bindparam("incident"), grouping_outcome=sa.bindparam("outcome")),
        [{"event_id": e, "incident": i, "outcome": str(o)} for e, i, o in marks],
    )
