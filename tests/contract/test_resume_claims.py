"""Claims on incidents waiting for approval, on SQLite and PostgreSQL: a waiting incident is resumed once per
decision or expiry, never merely because it waits with some of its actions decided (the spinning worker)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from oncall_agent.store.actions import SqlActionStore
from oncall_agent.store.engine import make_engine
from oncall_agent.store.investigations import SqlInvestigationStore
from oncall_agent.store.migrate import upgrade
from oncall_agent.store.tables import incidents
from tests.contract.store_fixtures import T0, Clock, engine_with_incidents
from tests.contract.test_action_store import proposed

LEASE = timedelta(minutes=5)


@pytest.fixture()
def engine(store_url: str) -> Iterator[Engine]:
    yield from engine_with_incidents(store_url)


def test_a_half_decided_incident_is_resumed_once_per_decision(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(sa.update(incidents).values(status="awaiting_approval"))
    clock = Clock()
    claims, actions = SqlInvestigationStore(engine, clock), SqlActionStore(engine, clock, ttl=timedelta(hours=1))
    rollback, scale = proposed(), proposed("ecs.scale", desired="8")
    actions.save_proposed([rollback, scale])
    assert claims.claim_next("w-1", LEASE) is None  # waiting, nothing decided
    actions.decide(rollback.id, rollback.digest, True, "dana", "api")
    claim = claims.claim_next("w-1", LEASE)
    assert claim is not None and (claim.incident_id, claim.mode) == ("inc-1", "resume")
    assert claims.claim_next("w-2", LEASE) is None  # claimed
    claims.release("inc-1", "w-1")
    for _ in range(3):
        assert claims.claim_next("w-1", LEASE) is None  # scale is still undecided: wait, do not spin
    actions.decide(scale.id, scale.digest, False, "dana", "api")
    claim = claims.claim_next("w-1", LEASE)
    assert claim is not None and claim.mode == "resume"


def test_a_decision_during_a_resume_is_kept_for_the_next_one(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(sa.update(incidents).values(status="awaiting_approval"))
    clock = Clock()
    claims, actions = SqlInvestigationStore(engine, clock), SqlActionStore(engine, clock, ttl=timedelta(hours=1))
    rollback, scale = proposed(), proposed("ecs.scale", desired="8")
    actions.save_proposed([rollback, scale])
    actions.decide(rollback.id, rollback.digest, True, "dana", "api")
    claim = claims.claim_next("w-1", LEASE)
    assert claim is not None and claim.mode == "resume"
    actions.decide(scale.id, scale.digest, True, "dana", "api")  # while w-1 works on the incident
    claims.release("inc-1", "w-1")
    claim = claims.claim_next("w-1", LEASE)
    assert claim is not None and claim.mode == "resume"


def test_an_incident_escalated_by_the_reaper_is_resumed_to_finish_its_thread(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(sa.update(incidents).values(status="awaiting_approval"))
    clock = Clock()
    claims, actions = SqlInvestigationStore(engine, clock), SqlActionStore(engine, clock, ttl=timedelta(hours=1))
    actions.save_proposed([proposed()])
    with engine.begin() as connection:
        connection.execute(sa.update(incidents).where(incidents.c.id == "inc-1").values(status="escalated"))
    assert claims.claim_next("w-1", LEASE) is None
    clock.at = T0 + timedelta(hours=2)
    assert len(actions.expire_due()) == 1
    claim = claims.claim_next("w-1", LEASE)
    assert claim is not None and (claim.incident_id, claim.mode) == ("inc-1", "resume")


def test_the_upgrade_flags_incidents_decided_before_it(store_url: str) -> None:
    """A decision made before migration 0006 (no flag existed) still resumes its incident once."""
    upgrade(store_url, "0003")
    engine = make_engine(store_url)
    try:
        with engine.begin() as connection:
            for incident_id, status in (("inc-1", "awaiting_approval"), ("inc-2", "awaiting_approval")):
                connection.execute(
                    sa.text(
                        "INSERT INTO incidents (id, fingerprint, service, status, first_event_at, last_event_at, "
                        "opened_at, updated_at, links) VALUES (:id, :fp, 'checkout', :status, :t, :t, :t, :t, '{}')"
                    ),
                    {"id": incident_id, "fp": incident_id, "status": status, "t": T0},
                )
            action = proposed()
            connection.execute(
                sa.text(
                    "INSERT INTO actions (id, incident_id, kind, parameters, runbook_id, risk, policy, digest, "
                    "status, created_at) VALUES (:id, 'inc-1', :kind, '{}', 'rb', 'medium', 'approval', :digest, "
                    "'approved', :t)"
                ),
                {"id": action.id, "kind": action.kind, "digest": action.digest, "t": T0},
            )
        upgrade(store_url)
        with engine.connect() as connection:
            rows = connection.execute(sa.select(incidents.c.id, incidents.c.resume_requested)).all()
            flags = {row.id: row.resume_requested for row in rows}
        assert {key: bool(value) for key, value in flags.items()} == {"inc-1": True, "inc-2": False}
    finally:
        engine.dispose()
