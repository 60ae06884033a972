"""verify: after a change, wait (bounded) for the incident's alarms to return to OK."""

from __future__ import annotations

import time
from typing import Any

from oncall_agent.domain.alarm import AlarmState
from oncall_agent.domain.incident import IncidentStatus
from oncall_agent.investigation.deps import Deps
from oncall_agent.investigation.state import InvestigationState


def _not_recovered(deps: Deps, scope: dict[str, Any]) -> str | None:
    """What keeps the incident from counting as recovered ("alarms still firing (...)" or "alarms not found ..."),
    or None when every one of its alarms is found and OK. An alarm that is not found (deleted, or looked up in
    another region) never counts as recovered."""
    assert deps.alarms is not None
    names, region = scope["alarm_names"], scope["region"]
    found = deps.alarms.snapshots(region, names)
    missing = sorted(set(names) - {s.name for s in found})
    if missing or not found:
        return f"alarms not found in {region} ({', '.join(missing) or 'none named'}: deleted, or another region)"
    firing = sorted(f"{s.name} {s.state.value}" for s in found if s.state is not AlarmState.OK)
    return f"alarms still firing ({', '.join(firing)})" if firing else None


def make(deps: Deps) -> Any:
    def verify(state: InvestigationState) -> dict[str, Any]:
        done = [e for e in state.get("executed", []) if e["status"] == "succeeded"]
        if not done:
            failed = [e for e in state.get("executed", []) if e["status"] == "failed"]
            reason = "the action failed" if failed else "no action was approved"
            return {"outcome": {"resolved": False, "reason": reason}}
        if deps.alarms is None:
            return {"outcome": {"resolved": False, "reason": "cannot read alarm states to verify recovery"}}
        deps.results.record(state["incident_id"], status=IncidentStatus.MONITORING, note="waiting for recovery")
        deadline = time.monotonic() + deps.limits.verify_timeout_seconds
        while True:
            pending = _not_recovered(deps, state["scope"])
            if pending is None:
                return {"outcome": {"resolved": True, "reason": "alarms back to OK"}}
            if time.monotonic() >= deadline:
                seconds = deps.limits.verify_timeout_seconds
                return {"outcome": {"resolved": False, "reason": f"{pending} {seconds:g} s after the action"}}
            deps.sleep(deps.limits.verify_poll_seconds)

    return verify
