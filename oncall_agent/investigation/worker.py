"""Investigation workers: claim an incident that needs work, run or resume its graph thread, release it.

Modes: `start` (a new incident), `resume` (one of its actions was decided or expired since the thread last
waited at the approval interrupt: the store's `resume_requested` flag), `recover` (it was being worked on
when a process died: continue from the last checkpoint).
While the graph runs, a heartbeat thread renews the claim's lease every third of it, so a live worker keeps its
incident however slow a step is (a failed renewal is retried at the next beat), while a dead replica's incident
is claimed again by another replica once the short lease (15 s by default) runs out.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from langgraph.types import Command

from oncall_agent.investigation.deps import Deps
from oncall_agent.investigation.tracing import investigation_span
from oncall_agent.observability import get_logger
from oncall_agent.store.investigations import Claim

log = get_logger(__name__)


class InvestigationWorker:
    def __init__(self, deps: Deps, graph: Any, name: str, lease: timedelta) -> None:
        self._deps = deps
        self._graph = graph
        self.name = name
        self._lease = lease

    def run_once(self) -> str | None:
        """Work on at most one incident; returns its id, or None when there was nothing to do."""
        claim: Claim | None = self._deps.results.claim_next(self.name, self._lease)
        if claim is None:
            return None
        config = {"configurable": {"thread_id": claim.incident_id}}
        stop_renewing = threading.Event()
        renewer = threading.Thread(target=self._renew, args=(claim.incident_id, stop_renewing), daemon=True)
        renewer.start()
        span = investigation_span(self._deps.tracer, claim.incident_id, **{"oncall.claim.mode": claim.mode})
        try:
            with span:
                log.info("investigation_step", incident=claim.incident_id, mode=claim.mode, worker=self.name)
                self._step(claim, config)
        except Exception as exc:  # noqa: BLE001 - keep the claim: it expires after the lease, a natural back-off
            stop_renewing.set()
            log.error("investigation_failed", incident=claim.incident_id, error=f"{type(exc).__name__}: {exc}")
            return claim.incident_id
        stop_renewing.set()
        self._deps.results.release(claim.incident_id, self.name)
        return claim.incident_id

    def _step(self, claim: Claim, config: dict[str, Any]) -> None:
        if claim.mode == "start" and not self._graph.get_state(config).values:
            self._graph.invoke({"incident_id": claim.incident_id}, config)
        elif claim.mode == "resume":
            if self._graph.get_state(config).next:  # a finished thread (e.g. closed meanwhile) has no interrupt
                self._graph.invoke(Command(resume={"decided": True}), config)
        else:
            self._graph.invoke(None, config)

    def _renew(self, incident_id: str, stop: threading.Event) -> None:
        while not stop.wait(self._lease.total_seconds() / 3):
            try:
                held = self._deps.results.renew(incident_id, self.name, self._lease)
            except Exception as exc:  # noqa: BLE001 - a dead heartbeat thread would hand a live incident away
                error = f"{type(exc).__name__}: {exc}"
                log.warning("claim_renew_failed", incident=incident_id, worker=self.name, error=error)
                continue
            if not held:
                # Only after this process stalled for a whole lease: the step finishes, but another worker may
                # already be running the same thread from its checkpoint (nodes are idempotent; writes go through
                # the outbox by key).
                log.warning("claim_lost", incident=incident_id, worker=self.name)
                return
