"""One read model of an incident for people and scripts: `incidents show`, `GET /api/incidents/{id}`, demo."""

from __future__ import annotations

from typing import Any

from oncall_agent.domain.incident import Incident
from oncall_agent.investigation.tracing import trace_id_of


def incident_summary(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "service": incident.service,
        "status": incident.status.value,
        "severity": incident.severity,
        "title": incident.title,
        "first_event_at": incident.first_event_at.isoformat(),
        "last_event_at": incident.last_event_at.isoformat(),
        "alarms": [{"name": a.alarm_name, "state": a.state.value} for a in incident.alarms],
        "links": incident.links,
    }


def incident_view(store: Any, results: Any, actions: Any, incident_id: str) -> dict[str, Any] | None:
    incident = store.get_incident(incident_id)
    if incident is None:
        return None
    return {
        **incident_summary(incident),
        "hypotheses": [h.model_dump(mode="json") for h in results.hypotheses(incident_id)],
        "evidence": [e.model_dump(mode="json") for e in results.evidence(incident_id)],
        "actions": [a.model_dump(mode="json") for a in actions.for_incident(incident_id)],
        "timeline": [e.model_dump(mode="json") for e in incident.timeline],
        "resolution": incident.resolution.model_dump(mode="json") if incident.resolution else None,
        "trace_id": trace_id_of(incident_id),
        "llm": llm_totals(incident),
    }


def llm_totals(incident: Incident) -> dict[str, Any] | None:
    """The reason step's totals and narrative, kept with the latest ranking's timeline entry (None: it was off)."""
    for entry in reversed(incident.timeline):
        if entry.kind == "hypotheses":
            found = entry.data.get("llm")
            return found if isinstance(found, dict) else None
    return None
