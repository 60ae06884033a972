"""Lifecycle log events: one JSON line per step of an incident's life, for log-based dashboards and audits.

`incident_opened`, `investigation_started`, `hypotheses_ranked`, `approval_requested`, `action_decided`,
`actions_executing`, `action_executed`, `verifying_recovery`, `incident_escalated`, `incident_resolved`,
`incident_closed`. Every line has `lifecycle: true` and the incident id, and is written after the change it reports
was committed (a rolled-back step logs nothing). Values come from the store, never free text from outside, except
notes, which are the agent's own words.
"""

from __future__ import annotations

from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter

from oncall_agent.domain.incident import IncidentStatus

_log = structlog.get_logger("oncall_agent.lifecycle")

EVENT_OF_STATUS: dict[IncidentStatus, str] = {
    IncidentStatus.INVESTIGATING: "investigation_started",
    IncidentStatus.AWAITING_APPROVAL: "approval_requested",
    IncidentStatus.MITIGATING: "actions_executing",
    IncidentStatus.MONITORING: "verifying_recovery",
    IncidentStatus.ESCALATED: "incident_escalated",
    IncidentStatus.RESOLVED: "incident_resolved",
    IncidentStatus.CLOSED: "incident_closed",
}


# One registry for the process (workers, approvals and intake all report here); /metrics serves it beside the app's.
REGISTRY = CollectorRegistry()
EVENTS = Counter("oncall_lifecycle_events", "Incident lifecycle steps, by event", ["event"], registry=REGISTRY)
ACTIONS_EXECUTED = Counter(
    "oncall_actions_executed", "Actions run, by kind and outcome", ["kind", "outcome"], registry=REGISTRY
)
ACTIONS_DECIDED = Counter(
    "oncall_actions_decided", "Approval decisions, by channel and verdict", ["via", "verdict"], registry=REGISTRY
)


def lifecycle(event: str, incident_id: str, **fields: Any) -> None:
    _log.info(event, lifecycle=True, incident_id=incident_id, **fields)
    EVENTS.labels(event=event).inc()
    if event == "action_executed":
        ACTIONS_EXECUTED.labels(kind=str(fields.get("kind")), outcome=str(fields.get("outcome"))).inc()
    elif event == "action_decided":
        verdict = "approved" if fields.get("approved") else "rejected"
        ACTIONS_DECIDED.labels(via=str(fields.get("via")), verdict=verdict).inc()


def status_changed(incident_id: str, status: IncidentStatus, note: str) -> None:
    event = EVENT_OF_STATUS.get(status)
    if event is not None:
        lifecycle(event, incident_id, status=status.value, note=note)
