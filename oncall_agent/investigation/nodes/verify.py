"""verify: after a change, wait (bounded) for the incident's alarms to return to OK."""

from __future__ import annotations

import time
from typing import Any

from oncall_agent.domain.alarm import AlarmState
from oncall_agent.domain.incident import IncidentStatus
from oncall_agent.investigation.deps import Deps
from oncall_agent.investigation.state import InvestigationState


def _all_ok(deps: Deps, scope: dict[str, Any]) -> bool:
    assert deps.alarms is not None
    found = deps.alarms.snapshots(scope["region"], scope["alarm_names"])
    return bool(found) and all(s.state is AlarmState.OK for s in found)


def make(deps: Deps) -> Any:
    def verify(state: InvestigationState) -> dict[str, Any]:
        done = [e for e in state.get("executed", []) if e["status"] == "succeeded"]
        if not done:
            failed = [e for e in state.get("executed", []) if e["status"] == "failed"]
            why = "the action failed" if failed else "no action was approved"
            return {"outcome": {"resolved": False, "reason": why}}
        if deps.alarms is None:
            return {"outcome": {"resolved": False, "reason": "cannot read alarm states to verify recovery"}}
        deps.results.record(state["incident_id"], status=IncidentStatus.MONITORING, note="waiting for recovery")
        deadline = time.monotonic() + deps.limits.verify_timeout_seconds
        while True:
            if _all_ok(deps, state["scope"]):
                return {"outcome": {"resolved": True, "reason": "alarms back to OK"}}
            if time.monotonic() >= deadline:
                seconds = int(deps.limits.verify_timeout_seconds)
                return {"outcome": {"resolved": False, "reason": f"alarms still firing {seconds} s after the action"}}
            deps.sleep(deps.limits.verify_poll_seconds)

    return verify
