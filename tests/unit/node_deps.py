"""Deps for testing one graph node on a real store (SQLite in a temporary folder, incidents inc-1 and inc-2
investigating) with the real outbox messenger; ports the node does not use stay unset."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from oncall_agent.coordination.messages import OutboxMessenger
from oncall_agent.domain.action import PolicyDecision, ProposedAction, action_digest
from oncall_agent.domain.catalog import Service
from oncall_agent.investigation.deps import Deps, Limits
from oncall_agent.store.actions import SqlActionStore
from oncall_agent.store.incident_store import SqlIncidentStore
from oncall_agent.store.investigations import SqlInvestigationStore
from oncall_agent.store.outbox import SqlOutbox
from tests.contract.store_fixtures import Clock, engine_with_incidents

INCIDENT = "inc-1"
CATALOG = [Service(name="checkout", ecs={"cluster": "prod-web", "service": "checkout"}, servicenow_ci="checkout")]


@dataclass
class NodeWorld:
    store: SqlIncidentStore
    results: SqlInvestigationStore
    actions: SqlActionStore
    outbox: SqlOutbox
    clock: Clock

    def deps(
        self, sleep: Callable[[float], None] = lambda _s: None, limits: Limits | None = None, **ports: Any
    ) -> Deps:
        return Deps(
            store=self.store,
            results=self.results,
            actions=self.actions,
            catalog=CATALOG,
            default_region="us-east-1",
            runbooks=[],
            policy=None,  # type: ignore[arg-type] - execute and verify never plan
            messenger=OutboxMessenger(CATALOG, None, servicenow=True, github=False),
            now=self.clock.now,
            sleep=sleep,
            limits=limits or Limits(),
            **ports,
        )


def node_world(tmp_path: Path) -> Iterator[NodeWorld]:
    clock = Clock()
    for engine in engine_with_incidents(f"sqlite:///{tmp_path / 'oncall.db'}"):
        store = SqlIncidentStore(engine, clock)
        yield NodeWorld(
            store,
            SqlInvestigationStore(engine, clock),
            SqlActionStore(engine, clock, ttl=timedelta(hours=1)),
            SqlOutbox(engine, clock),
            clock,
        )
        store.close()


def proposed(
    kind: str = "ecs.rollback", policy: PolicyDecision = PolicyDecision.APPROVAL, **parameters: str
) -> ProposedAction:
    params = parameters or {"cluster": "prod-web", "service": "checkout", "task_definition": "checkout:117"}
    digest = action_digest(kind, params)
    return ProposedAction(
        id=f"act-{digest[:12]}",
        incident_id=INCIDENT,
        kind=kind,
        parameters=params,
        runbook_id="rb-test",
        policy=policy,
        digest=digest,
    )
