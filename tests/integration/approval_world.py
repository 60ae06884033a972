"""A store (SQLite file), the real investigation graph with its SqliteSaver checkpointer, a worker and the
approval service, for tests of how decisions and expiries move an incident's graph."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from oncall_agent.coordination.messages import OutboxMessenger
from oncall_agent.domain.action import ActionStatus, PolicyDecision, ProposedAction, action_digest
from oncall_agent.investigation.deps import Deps
from oncall_agent.investigation.graph import build_graph
from oncall_agent.investigation.worker import InvestigationWorker
from oncall_agent.ports import ActionPlan
from oncall_agent.response.approvals import ApprovalService, directory_from
from oncall_agent.response.expiry import ExpiryReaper
from oncall_agent.store.actions import SqlActionStore
from oncall_agent.store.checkpoints import open_checkpointer
from oncall_agent.store.engine import make_engine
from oncall_agent.store.incident_store import SqlIncidentStore
from oncall_agent.store.investigations import SqlInvestigationStore
from oncall_agent.store.migrate import upgrade
from oncall_agent.store.outbox import SqlOutbox
from oncall_agent.store.tables import incidents
from tests.contract.store_fixtures import T0, Clock

INCIDENT = "inc-1"


class RecordingExecutor:
    """An executor double for the ActionExecutor port: feasible dry runs, records what it executed."""

    def __init__(self) -> None:
        self.executed: list[str] = []

    def kinds(self) -> frozenset[str]:
        return frozenset({"ecs.rollback", "ecs.scale"})

    def plan(self, action: ProposedAction) -> ActionPlan:
        return ActionPlan(True, f"would run {action.kind}", {}, dict(action.parameters))

    def execute(self, action: ProposedAction, idempotency_key: str) -> dict[str, Any]:
        self.executed.append(action.id)
        return {"done": action.kind}


def _action(kind: str, policy: PolicyDecision = PolicyDecision.APPROVAL, **parameters: str) -> ProposedAction:
    digest = action_digest(kind, parameters)
    return ProposedAction(
        id=f"act-{digest[:12]}",
        incident_id=INCIDENT,
        kind=kind,
        parameters=parameters,
        runbook_id="rb",
        policy=policy,
        digest=digest,
        approvers="storefront" if policy is PolicyDecision.APPROVAL else None,
    )


ROLLBACK = _action("ecs.rollback", cluster="prod", service="checkout", task_definition="checkout:117")
SCALE = _action("ecs.scale", cluster="prod", service="checkout", desired="8")
ESCALATE = _action("escalate", PolicyDecision.AUTO, team="storefront")


class World:
    def __init__(self, folder: Path) -> None:
        url = f"sqlite:///{folder / 'oncall.db'}"
        upgrade(url)
        self.engine = make_engine(url)
        with self.engine.begin() as connection:
            connection.execute(
                sa.insert(incidents).values(
                    id=INCIDENT,
                    fingerprint=INCIDENT,
                    service="checkout",
                    status="investigating",
                    first_event_at=T0,
                    last_event_at=T0,
                    opened_at=T0,
                    updated_at=T0,
                    links={},
                )
            )
        self.clock = Clock()
        self.store = SqlIncidentStore(self.engine, self.clock)
        self.results = SqlInvestigationStore(self.engine, self.clock)
        self.actions = SqlActionStore(self.engine, self.clock, ttl=timedelta(hours=1))
        self.executor = RecordingExecutor()
        messenger = OutboxMessenger([], None, servicenow=True, github=True)
        deps = Deps(
            store=self.store,
            results=self.results,
            actions=self.actions,
            catalog=[],
            default_region="us-east-1",
            runbooks=[],
            policy=None,  # type: ignore[arg-type] - planning is skipped: the plan is given below
            messenger=messenger,
            now=self.clock.now,
            sleep=lambda _seconds: None,
            executors={"ecs.rollback": self.executor, "ecs.scale": self.executor},
        )
        self.checkpointer, self._close = open_checkpointer(url)
        self.graph = build_graph(deps, self.checkpointer)
        self.worker = InvestigationWorker(deps, self.graph, "w-1", timedelta(minutes=5))
        directory = directory_from(
            {"alice": (None, ["storefront"]), "bob": (None, ["storefront", "payments"]), "carol": (None, ["payments"])},
            {"dave": "dave-token"},
            ["oncall"],
        )
        self.approvals = ApprovalService(self.actions, self.results, messenger.progress, directory)
        self.reaper = ExpiryReaper(self.actions, messenger.progress, messenger.closed)
        self.outbox = SqlOutbox(self.engine, self.clock)

    def planned(self, *actions: ProposedAction) -> None:
        """The thread as if `plan` had proposed `actions` (the nodes before it need AWS; they are not tested)."""
        scope = {"incident_id": INCIDENT, "service": "checkout", "alarm_name": "checkout-5xx", "region": "us-east-1"}
        values = {
            "incident_id": INCIDENT,
            "scope": {**scope, "alarm_names": ["checkout-5xx"]},
            "hypotheses": [],
            "evidence": [],
            "actions": [a.model_dump(mode="json") for a in actions],
        }
        self.graph.update_state({"configurable": {"thread_id": INCIDENT}}, values, as_node="plan")

    def busy_rounds(self, rounds: int) -> int:
        """How many of `rounds` worker iterations found an incident to work on (each runs graph steps)."""
        return sum(1 for _ in range(rounds) if self.worker.run_once() is not None)

    def status(self, action: ProposedAction) -> ActionStatus:
        found = self.actions.get(action.id)
        assert found is not None
        return found.status

    def timeline(self, kind: str) -> list[str]:
        incident = self.store.get_incident(INCIDENT)
        assert incident is not None
        return [entry.message for entry in incident.timeline if entry.kind == kind]

    def notes(self) -> list[tuple[str, str]]:
        """(operation, text) of every outbox row queued for the incident, in order."""
        return [
            (row.operation, str(row.payload.get("note") or row.payload.get("body") or row.payload.get("labels")))
            for row in self.outbox.for_incident(INCIDENT)
        ]

    def incident_status(self) -> str:
        incident = self.store.get_incident(INCIDENT)
        assert incident is not None
        return incident.status.value

    def close(self) -> None:
        self._close()
        self.engine.dispose()
