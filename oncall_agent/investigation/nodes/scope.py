"""scope: what is being investigated — the incident, its service, the alarm's metric, the time window."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from oncall_agent.domain.alarm import AlarmState
from oncall_agent.domain.errors import StoreError
from oncall_agent.domain.incident import IncidentStatus
from oncall_agent.domain.severity import derive
from oncall_agent.investigation.deps import Deps
from oncall_agent.investigation.state import InvestigationState


def make(deps: Deps) -> Any:
    def scope(state: InvestigationState) -> dict[str, Any]:
        incident = deps.store.get_incident(state["incident_id"])
        if incident is None:
            raise StoreError(f"incident {state['incident_id']} does not exist")
        firing = [a for a in incident.alarms if a.state is AlarmState.ALARM] or incident.alarms
        first = min(firing, key=lambda a: a.state_timestamp)
        service = deps.service(incident.service)
        region = service.region or first.alarm_arn.split(":")[3] or deps.default_region
        metric, description = None, ""
        if deps.alarms is not None:
            try:
                found = deps.alarms.snapshots(region, [first.alarm_name])
                metric = found[0].metric.model_dump(mode="json") if found and found[0].metric else None
                description = found[0].description if found else ""
            except Exception:  # noqa: BLE001 - without the metric the metrics source records a gap
                metric = None
        onset = first.state_timestamp
        severity = derive(service, deps.catalog, first.alarm_name, metric.get("name") if metric else None)
        if incident.status is IncidentStatus.OPEN:  # replayed after a crash: already moved on
            deps.results.record(
                incident.id,
                status=IncidentStatus.INVESTIGATING,
                note="investigation started",
                severity=severity.level,
            )
        return {
            "scope": {
                "incident_id": incident.id,
                "service": service.name,
                "region": region,
                "alarm_name": first.alarm_name,
                "alarm_names": [a.alarm_name for a in incident.alarms],
                "metric": metric,
                "alarm_description": description,  # untrusted: only matched against, never followed
                "severity": {
                    "level": severity.level,
                    "impact": severity.impact,
                    "urgency": severity.urgency,
                    "text": severity.describe(),
                },
                "onset": onset.isoformat(),
                "window_start": (onset - timedelta(minutes=deps.limits.lookback_minutes)).isoformat(),
                "now": deps.now().isoformat(),
            }
        }

    return scope
