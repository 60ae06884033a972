"""Investigation results (evidence, ranked hypotheses) and the claims workers hold on incidents.

A claim is a lease: `claimed_by` + `lease_until`. A worker claims an incident before running its graph and
releases it when the graph stops (finished, or waiting at an approval). A waiting graph is resumed only when
`resume_requested` is set (a decision or an expiry since the last resume), never just because it waits.
A worker that dies loses the claim when the lease runs out, and the incident is picked up again and resumed
from its last checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from oncall_agent.domain.evidence import Evidence, Hypothesis
from oncall_agent.domain.incident import IncidentStatus
from oncall_agent.lifecycle import lifecycle, status_changed
from oncall_agent.ports import Clock
from oncall_agent.store.engine import writer
from oncall_agent.store.errors import translate_errors
from oncall_agent.store.incidents import add_timeline, change_status
from oncall_agent.store.outbox import OutboxItem, enqueue
from oncall_agent.store.tables import evidence, hypotheses, incidents
from oncall_agent.store.write_gate import gate_for

S = IncidentStatus
_RUNNING = [S.INVESTIGATING.value, S.MITIGATING.value, S.MONITORING.value]
# A graph waiting at the approval interrupt: awaiting approval, or escalated by the expiry reaper meanwhile.
_WAITING = [S.AWAITING_APPROVAL.value, S.ESCALATED.value]


@dataclass(frozen=True)
class Claim:
    incident_id: str
    mode: str  # start | resume | recover


class SqlInvestigationStore:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._writer = writer(engine)
        self._gate = gate_for(engine)
        self._clock = clock

    @contextmanager
    def _write(self, what: str) -> Iterator[Connection]:
        with translate_errors(what), self._gate.background(), self._writer.begin() as connection:
            yield connection

    # --- claims ---------------------------------------------------------------------------------------------

    def claim_next(self, worker: str, lease: timedelta) -> Claim | None:
        """The next incident that needs a worker, claimed by `worker` until now + lease."""
        now = self._clock.now()
        free = sa.or_(incidents.c.claimed_by.is_(None), incidents.c.lease_until < now)
        # Resume only when something changed since the last resume (a decision or an expiry set the flag): an
        # incident with some actions still undecided must wait, not be resumed again and again. Work already under
        # way comes before new incidents: a decided approval, then a dead worker's incident (so a takeover does
        # not wait behind an alarm storm), then new ones.
        woken = sa.and_(incidents.c.status.in_(_WAITING), incidents.c.resume_requested.is_(True))
        candidates = [
            ("resume", woken),
            ("recover", incidents.c.status.in_(_RUNNING)),
            ("start", incidents.c.status == S.OPEN.value),
        ]
        with self._write("claim incident") as connection:
            for mode, condition in candidates:
                row = connection.execute(
                    sa.select(incidents.c.id).where(condition, free).order_by(incidents.c.opened_at).limit(1)
                ).first()
                if row is None:
                    continue
                claimed = connection.execute(
                    sa.update(incidents)
                    .where(incidents.c.id == row.id, free)
                    .values(
                        claimed_by=worker,
                        lease_until=now + lease,
                        **({"resume_requested": False} if mode == "resume" else {}),
                    )
                ).rowcount
                if claimed:
                    return Claim(row.id, mode)
        return None

    def renew(self, incident_id: str, worker: str, lease: timedelta) -> bool:
        with self._write("renew claim") as connection:
            return bool(
                connection.execute(
                    sa.update(incidents)
                    .where(incidents.c.id == incident_id, incidents.c.claimed_by == worker)
                    .values(lease_until=self._clock.now() + lease)
                ).rowcount
            )

    def release(self, incident_id: str, worker: str) -> None:
        with self._write("release claim") as connection:
            connection.execute(
                sa.update(incidents)
                .where(incidents.c.id == incident_id, incidents.c.claimed_by == worker)
                .values(claimed_by=None, lease_until=None)
            )

    # --- results --------------------------------------------------------------------------------------------

    def record(
        self,
        incident_id: str,
        *,
        found: Iterable[Evidence] = (),
        ranked: list[Hypothesis] | None = None,
        status: IncidentStatus | None = None,
        note: str = "",
        timeline: tuple[str, str, dict[str, Any]] | None = None,
        outbox: Iterable[OutboxItem] = (),
        severity: str | None = None,
    ) -> None:
        """One transaction: evidence (added, deduplicated by id), the ranking (replaced), a status change,
        the derived severity, a timeline entry and the outbox rows those changes cause."""
        now = self._clock.now()
        changed = False
        with self._write(f"record investigation of {incident_id}") as connection:
            _put_evidence(connection, incident_id, found)
            if ranked is not None:
                _replace_hypotheses(connection, incident_id, ranked)
            if status is not None:
                changed = change_status(connection, incident_id, status, note, now)
            if severity is not None:
                connection.execute(incidents.update().where(incidents.c.id == incident_id).values(severity=severity))
            if timeline is not None:
                kind, message, data = timeline
                add_timeline(connection, incident_id, now, kind, message, data)
            enqueue(connection, list(outbox), now)
        if ranked:
            top = ranked[0]
            lifecycle(
                "hypotheses_ranked",
                incident_id,
                count=len(ranked),
                category=top.category.value,
                culprit=top.culprit,
                confidence=round(top.confidence, 3),
            )
        if changed and status is not None:
            status_changed(incident_id, status, note)

    def evidence(self, incident_id: str) -> list[Evidence]:
        with translate_errors("read evidence"), self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(evidence).where(evidence.c.incident_id == incident_id).order_by(evidence.c.at, evidence.c.id)
            )
            return [
                Evidence(
                    id=r.id,
                    kind=r.kind,
                    source=r.source,
                    at=r.at,
                    entity=r.entity,
                    summary=r.summary,
                    details=r.details,
                    link=r.link,
                )
                for r in rows
            ]

    def hypotheses(self, incident_id: str) -> list[Hypothesis]:
        with translate_errors("read hypotheses"), self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(hypotheses).where(hypotheses.c.incident_id == incident_id).order_by(hypotheses.c.rank)
            )
            return [
                Hypothesis(
                    category=r.category,
                    culprit=r.culprit,
                    confidence=r.confidence,
                    evidence_for=r.evidence_for,
                    evidence_against=r.evidence_against,
                    features=r.features,
                    summary=r.summary,
                )
                for r in rows
            ]


def _put_evidence(connection: Connection, incident_id: str, found: Iterable[Evidence]) -> None:
    known = set(connection.execute(sa.select(evidence.c.id).where(evidence.c.incident_id == incident_id)).scalars())
    rows = [
        {"incident_id": incident_id, **item.model_dump(mode="json", exclude={"at"}), "at": item.at}
        for item in found
        if item.id not in known
    ]
    if rows:
        connection.execute(sa.insert(evidence), rows)


def _replace_hypotheses(connection: Connection, incident_id: str, ranked: list[Hypothesis]) -> None:
    connection.execute(sa.delete(hypotheses).where(hypotheses.c.incident_id == incident_id))
    if ranked:
        connection.execute(
            sa.insert(hypotheses),
            [{"incident_id": incident_id, "rank": rank, **h.model_dump(mode="json")} for rank, h in enumerate(ranked)],
        )


def request_resume(connection: Connection, incident_ids: Iterable[str]) -> None:
    """Flag the incidents so a worker resumes their waiting graphs (called in the deciding transaction)."""
    ids = sorted(set(incident_ids))
    if ids:
        connection.execute(sa.update(incidents).where(incidents.c.id.in_(ids)).values(resume_requested=True))
