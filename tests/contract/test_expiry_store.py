"""The store side of the expiry reaper on SQLite and PostgreSQL: due approvals expire once, with what the
caller says about each incident (timeline, outbox rows, escalation) in the same transaction."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from oncall_agent.domain.action import ActionStatus, PolicyDecision
from oncall_agent.store.actions import SqlActionStore
from oncall_agent.store.expiry import ExpiredGroup, ExpiryEffects
from oncall_agent.store.incident_store import SqlIncidentStore
from oncall_agent.store.outbox import OutboxItem, SqlOutbox
from oncall_agent.store.tables import incidents
from tests.contract.store_fixtures import T0, Clock, engine_with_incidents
from tests.contract.test_action_store import proposed

A = ActionStatus


@pytest.fixture()
def engine(store_url: str) -> Iterator[Engine]:
    yield from engine_with_incidents(store_url)


def test_due_approvals_expire_once_with_their_effects(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(sa.update(incidents).values(status="awaiting_approval"))
    clock = Clock()
    store = SqlActionStore(engine, clock, ttl=timedelta(hours=1))
    rollback, scale = proposed(), proposed("ecs.scale", desired="8")
    escalate = proposed("escalate", PolicyDecision.AUTO, team="storefront")
    other = proposed(incident="inc-2", task_definition="x:1")
    store.save_proposed([rollback, scale, escalate], approvers={rollback.id: "storefront"})
    store.save_proposed([other], expires_at=T0 + timedelta(hours=3))
    store.decide(scale.id, scale.digest, False, "dana", "api")
    seen: list[ExpiredGroup] = []

    def effects(group: ExpiredGroup) -> ExpiryEffects:
        seen.append(group)
        note = OutboxItem(f"{group.incident_id}:expired", group.incident_id, "github", "github.comment", {"body": "x"})
        return ExpiryEffects(timeline="expired", outbox=[note], escalate="nobody decided")

    clock.at = T0 + timedelta(hours=1)
    assert store.expire_due(effects=effects) == [rollback.id]  # not the automatic escalation, not inc-2's
    assert [(g.incident_id, [a.id for a in g.expired], g.still_open) for g in seen] == [("inc-1", [rollback.id], [])]
    assert seen[0].expired[0].approvers == "storefront" and seen[0].expires_at[rollback.id] == T0 + timedelta(hours=1)
    incident = SqlIncidentStore(engine, clock).get_incident("inc-1")
    assert incident is not None and incident.status.value == "escalated"
    assert [e.message for e in incident.timeline if e.kind == "expired"] == ["expired"]
    assert [r.key for r in SqlOutbox(engine, clock).for_incident("inc-1")] == ["inc-1:expired"]
    assert store.expire_due(effects=effects) == [] and len(seen) == 1
    assert store.get(escalate.id).status is A.PROPOSED  # type: ignore[union-attr]
    assert store.mark_executing(escalate.id).status is A.EXECUTING  # an automatic action has no deadline


def test_effects_that_fail_roll_the_expiry_back(engine: Engine) -> None:
    clock = Clock()
    store = SqlActionStore(engine, clock, ttl=timedelta(hours=1))
    rollback = proposed()
    store.save_proposed([rollback])
    clock.at = T0 + timedelta(hours=2)

    def broken(_group: ExpiredGroup) -> ExpiryEffects:
        raise RuntimeError("renderer failed")

    with pytest.raises(RuntimeError):
        store.expire_due(effects=broken)
    assert store.get(rollback.id).status is A.PROPOSED  # type: ignore[union-attr]  # retried on the next run
    assert store.expire_due() == [rollback.id]
