"""SqlActionStore on SQLite and PostgreSQL: idempotent proposals, digest-bound decisions, expiry, execution."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from oncall_agent.domain.action import ActionStatus, PolicyDecision, ProposedAction, action_digest
from oncall_agent.domain.errors import InvalidTransition
from oncall_agent.store.actions import (
    ActionExpired,
    ActionNotPending,
    ApprovalRequired,
    DigestMismatch,
    SqlActionStore,
    UnknownAction,
)
from oncall_agent.store.outbox import OutboxItem, SqlOutbox
from oncall_agent.store.tables import incidents
from tests.contract.store_fixtures import T0, Clock, engine_with_incidents

A = ActionStatus


@pytest.fixture()
def engine(store_url: str) -> Iterator[Engine]:
    yield from engine_with_incidents(store_url)


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def store(engine: Engine, clock: Clock) -> SqlActionStore:
    return SqlActionStore(engine, clock, ttl=timedelta(hours=1))


def proposed(
    kind: str = "ecs.rollback", policy: PolicyDecision = PolicyDecision.APPROVAL, incident: str = "inc-1", **params: str
) -> ProposedAction:
    parameters = params or {"cluster": "prod-web", "service": "checkout", "task_definition": "checkout:117"}
    digest = action_digest(kind, parameters)
    return ProposedAction(
        id=f"act-{digest[:12]}",
        incident_id=incident,
        kind=kind,
        parameters=parameters,
        runbook_id="rb",
        risk="medium",
        policy=policy,
        digest=digest,
    )


def test_save_is_idempotent_and_never_resets_a_decision(store: SqlActionStore) -> None:
    rollback, escalate = proposed(), proposed("escalate", PolicyDecision.AUTO, team="storefront")
    assert store.save_proposed([rollback, escalate], approvers={rollback.id: "storefront"}) == 2
    assert store.save_proposed([rollback, escalate]) == 0
    assert store.save_proposed([]) == 0
    assert store.get(rollback.id) == rollback.model_copy(update={"approvers": "storefront"})
    assert store.get(escalate.id) == escalate
    assert store.get("act-missing") is None
    store.decide(rollback.id, rollback.digest, False, "dana", "cli")
    assert store.save_proposed([rollback]) == 0
    assert store.get(rollback.id).status is A.REJECTED  # type: ignore[union-attr]
    record = store.record(rollback.id)
    assert record is not None and record.approvers == "storefront"
    assert record.created_at == T0 and record.expires_at == T0 + timedelta(hours=1)


def test_for_incident_keeps_escalate_last(store: SqlActionStore) -> None:
    escalate = proposed("escalate", PolicyDecision.AUTO, team="storefront")
    rollback = proposed()
    other = proposed(incident="inc-2", task_definition="x:1")
    store.save_proposed([escalate, rollback, other])
    assert [a.kind for a in store.for_incident("inc-1")] == ["ecs.rollback", "escalate"]
    assert [a.id for a in store.for_incident("inc-2")] == [other.id]


def test_approval_is_recorded_and_a_replay_is_refused_without_a_change(store: SqlActionStore, clock: Clock) -> None:
    action = proposed()
    store.save_proposed([action])
    clock.at = T0 + timedelta(minutes=5)
    approved = store.decide(action.id, action.digest, True, "dana", "api")
    assert (approved.status, approved.decided_by, approved.decided_via) == (A.APPROVED, "dana", "api")
    assert approved.decided_at == T0 + timedelta(minutes=5)
    clock.at = T0 + timedelta(minutes=6)
    with pytest.raises(ActionNotPending, match="already approved by dana"):
        store.decide(action.id, action.digest[:12], True, "lee", "github")
    with pytest.raises(ActionNotPending, match="already approved by dana"):
        store.decide(action.id, action.digest, False, "lee", "cli")
    assert store.get(action.id) == approved  # the first decision stands


@pytest.mark.parametrize("approve", [True, False])
def test_a_rejected_action_cannot_be_decided_again(store: SqlActionStore, clock: Clock, approve: bool) -> None:
    action = proposed()
    store.save_proposed([action])
    rejected = store.decide(action.id, action.digest, False, "dana", "cli")
    clock.at = T0 + timedelta(minutes=1)
    with pytest.raises(ActionNotPending, match="already rejected by dana"):
        store.decide(action.id, action.digest, approve, "lee", "api")
    assert store.get(action.id) == rejected


def test_a_decision_or_an_expiry_asks_for_one_resume(store: SqlActionStore, engine: Engine, clock: Clock) -> None:
    def flags() -> dict[str, bool]:
        with engine.connect() as connection:
            rows = connection.execute(sa.select(incidents.c.id, incidents.c.resume_requested))
            return {row.id: bool(row.resume_requested) for row in rows}

    first, second = proposed(), proposed("ecs.scale", incident="inc-2", desired="8")
    store.save_proposed([first], expires_at=T0 + timedelta(minutes=60))
    store.save_proposed([second], expires_at=T0 + timedelta(minutes=30))
    assert flags() == {"inc-1": False, "inc-2": False}
    store.decide(first.id, first.digest, True, "dana", "api")
    assert flags() == {"inc-1": True, "inc-2": False}
    with pytest.raises(DigestMismatch):
        store.decide(second.id, "f" * 64, True, "dana", "api")
    assert flags()["inc-2"] is False  # a refused decision changes nothing
    clock.at = T0 + timedelta(minutes=31)
    assert store.expire_due() == [second.id]
    assert flags() == {"inc-1": True, "inc-2": True}


@pytest.mark.parametrize("digest", ["0" * 64, "abc", "", lambda d: d[:11], lambda d: d + "0"])
def test_a_decision_on_another_digest_is_refused(store: SqlActionStore, digest: object) -> None:
    action = proposed()
    store.save_proposed([action])
    given = digest(action.digest) if callable(digest) else digest
    with pytest.raises(DigestMismatch):
        store.decide(action.id, given, True, "dana", "cli")  # type: ignore[arg-type]
    assert store.get(action.id).status is A.PROPOSED  # type: ignore[union-attr]


def test_unknown_action(store: SqlActionStore) -> None:
    with pytest.raises(UnknownAction):
        store.decide("act-nope", "0" * 64, True, "dana", "cli")
    with pytest.raises(UnknownAction):
        store.mark_executing("act-nope")


def test_an_expired_proposal_cannot_be_decided(store: SqlActionStore, clock: Clock) -> None:
    action = proposed()
    store.save_proposed([action], expires_at=T0 + timedelta(minutes=10))
    clock.at = T0 + timedelta(minutes=10)
    with pytest.raises(ActionExpired):
        store.decide(action.id, action.digest, True, "dana", "cli")
    assert store.get(action.id).status is A.EXPIRED  # type: ignore[union-attr]  # committed despite the error
    with pytest.raises(ActionNotPending, match="expired"):
        store.decide(action.id, action.digest, True, "dana", "cli")


def test_decision_and_its_outbox_rows_commit_together(store: SqlActionStore, engine: Engine, clock: Clock) -> None:
    action = proposed()
    store.save_proposed([action])

    def echo(decided: ProposedAction) -> list[OutboxItem]:
        note = f"{decided.id} {decided.status.value} by {decided.decided_by}"
        return [
            OutboxItem(
                f"decision:{decided.id}",
                decided.incident_id,
                "github",
                "github.comment",
                {"body": note, "key": f"decision:{decided.id}"},
            )
        ]

    outbox = SqlOutbox(engine, clock)
    with pytest.raises(DigestMismatch):
        store.decide(action.id, "f" * 64, True, "dana", "cli", outbox=echo)
    assert outbox.for_incident("inc-1") == []
    store.decide(action.id, action.digest, True, "dana", "cli", outbox=echo)
    with pytest.raises(ActionNotPending):
        store.decide(action.id, action.digest, True, "dana", "cli", outbox=echo)  # a replay queues nothing
    rows = outbox.for_incident("inc-1")
    assert [(r.operation, r.payload["body"]) for r in rows] == [("github.comment", f"{action.id} approved by dana")]


def test_execution_needs_approval_unless_the_policy_is_auto(store: SqlActionStore) -> None:
    gated, auto = proposed(), proposed("escalate", PolicyDecision.AUTO, team="storefront")
    store.save_proposed([gated, auto])
    with pytest.raises(ApprovalRequired):
        store.mark_executing(gated.id)
    assert store.mark_executing(auto.id).status is A.EXECUTING
    store.decide(gated.id, gated.digest, True, "dana", "cli")
    executing = store.mark_executing(gated.id, plan={"before": "checkout:118", "after": "checkout:117"})
    assert executing.status is A.EXECUTING
    assert store.mark_executing(gated.id).status is A.EXECUTING  # a replayed node: no-op
    done = store.mark_succeeded(gated.id, {"deployment": "ecs-svc/123"})
    assert done.status is A.SUCCEEDED
    record = store.record(gated.id)
    assert record is not None and record.plan == {"before": "checkout:118", "after": "checkout:117"}
    assert record.result == {"deployment": "ecs-svc/123"}
    with pytest.raises(InvalidTransition):
        store.mark_failed(gated.id, "too late")
    assert store.mark_failed(auto.id, "pager down").status is A.FAILED
    assert store.record(auto.id).result == {"error": "pager down"}  # type: ignore[union-attr]


def test_failing_before_the_start_passes_through_executing(store: SqlActionStore) -> None:
    gated, auto = proposed(), proposed("escalate", PolicyDecision.AUTO, team="storefront")
    store.save_proposed([gated, auto])
    with pytest.raises(ApprovalRequired):
        store.mark_failed(gated.id, "dry run: no such service")
    store.decide(gated.id, gated.digest, True, "dana", "cli")
    assert store.mark_failed(gated.id, "dry run: no such service").status is A.FAILED
    assert store.mark_failed(auto.id, "no executor for escalate").status is A.FAILED
    assert store.record(gated.id).result == {"error": "dry run: no such service"}  # type: ignore[union-attr]


def test_a_rejected_action_never_executes(store: SqlActionStore) -> None:
    action = proposed()
    store.save_proposed([action])
    store.decide(action.id, action.digest, False, "dana", "cli")
    with pytest.raises(InvalidTransition):
        store.mark_executing(action.id)
    with pytest.raises(InvalidTransition):
        store.mark_failed(action.id, "x")


def test_an_approved_action_past_its_deadline_expires_instead_of_running(store: SqlActionStore, clock: Clock) -> None:
    action = proposed()
    store.save_proposed([action])
    store.decide(action.id, action.digest, True, "dana", "cli")
    clock.at = T0 + timedelta(hours=2)
    with pytest.raises(ActionExpired):
        store.mark_executing(action.id)
    assert store.get(action.id).status is A.EXPIRED  # type: ignore[union-attr]


def test_expire_due(store: SqlActionStore, clock: Clock) -> None:
    soon, later, decided = proposed(task_definition="a:1"), proposed(task_definition="b:1"), proposed()
    store.save_proposed([soon, decided], expires_at=T0 + timedelta(minutes=5))
    store.save_proposed([later], expires_at=T0 + timedelta(hours=3))
    store.decide(decided.id, decided.digest, False, "dana", "cli")
    assert store.expire_due(T0 + timedelta(minutes=4)) == []
    assert store.expire_due(T0 + timedelta(minutes=5)) == [soon.id]
    assert store.expire_due(T0 + timedelta(minutes=6)) == []
    assert {a.id: a.status for a in store.for_incident("inc-1")} == {
        soon.id: A.EXPIRED,
        later.id: A.PROPOSED,
        decided.id: A.REJECTED,
    }
