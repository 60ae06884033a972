"""What the console pages show, shaped from the stores: plain words, humane ages, evidence grouped by kind.

Pure reads; the templates only lay these dicts out. Evidence kinds this code does not know (another part of
the agent may add one, e.g. `looked_at`) are shown generically under a label made from the kind.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from oncall_agent.domain.incident import IncidentStatus
from oncall_agent.domain.reasoning import usage_line
from oncall_agent.investigation.views import llm_totals

MAX_INCIDENTS = 200
KIND_LABELS = {
    "metric_shift": "Metric changes",
    "log_signature": "Log patterns",
    "deploy": "Deploys",
    "config_change": "Configuration changes",
    "related_alarm": "Related alarms",
    "ticket": "Tickets",
    "past_incident": "Similar past incidents",
    "looked_at": "Neighbourhood looked at",
    "change_summary": "What a commit or pull request changed",
}
CATEGORY_WORDS = {
    "deploy": "a deploy",
    "config_change": "a configuration change",
    "dependency": "a failing dependency",
    "traffic_surge": "a traffic surge",
    "resource_exhaustion": "resource exhaustion",
    "credential_expiry": "an expired credential",
    "infrastructure": "an infrastructure fault",
    "unknown": "no confident cause",
}
_DONE = {IncidentStatus.RESOLVED.value, IncidentStatus.CLOSED.value}


def age(since: datetime | None, now: datetime) -> str:
    if since is None:
        return ""
    seconds = max(0, int((now - since).total_seconds()))
    if seconds >= 86400:
        return f"{seconds // 86400} d"
    if seconds >= 3600:  # "1 h 59 min", not "1 h", for a deadline two hours away
        minutes = seconds % 3600 // 60
        return f"{seconds // 3600} h" + (f" {minutes} min" if minutes else "")
    return f"{seconds // 60} min" if seconds >= 60 else f"{seconds} s"


def hypothesis_words(h: dict[str, Any]) -> str:
    cause = CATEGORY_WORDS.get(h["category"]) or str(h["category"]).replace("_", " ")
    if h["category"] == "unknown":
        return cause  # an abstention has no confidence worth a number
    culprit = f" ({h['culprit']})" if h.get("culprit") else ""
    return f"{cause}{culprit}, {round(h['confidence'] * 100)}% confident"


def looked_at(evidence: list[dict[str, Any]], cited: set[str]) -> list[dict[str, Any]]:
    """Evidence no hypothesis cites, by kind (the neighbourhood first): what was checked and found unremarkable."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for item in evidence:
        if item["kind"] != "gap" and item["id"] not in cited:
            by_kind.setdefault(item["kind"], []).append(item)
    return [
        {"label": KIND_LABELS.get(kind) or kind.replace("_", " ").capitalize(), "items": items}
        for kind, items in sorted(by_kind.items(), key=lambda pair: (pair[0] != "looked_at", pair[0]))
    ]


def model_reading(totals: dict[str, Any] | None) -> dict[str, Any] | None:
    """The LLM's narrative, any disagreement with the correlator, and what it cost (None: it was off)."""
    if not totals:
        return None
    return {
        "narrative": totals.get("narrative") or "",
        "disagreement": totals.get("disagreement") or "",
        "usage": usage_line(totals),
    }


def tickets(links: dict[str, Any]) -> list[dict[str, str]]:
    """The incident's tracker records as (label, text, url): what a person clicks, not the stored keys."""
    found = []
    if "servicenow_number" in links or "servicenow_link" in links:
        text = str(links.get("servicenow_number") or links.get("servicenow_sys_id") or "record")
        found.append({"label": "ServiceNow", "text": text, "url": str(links.get("servicenow_link") or "")})
    if "github_issue" in links or "github_link" in links:
        text = f"{links.get('github_repo', '')}#{links.get('github_issue', '')}"
        found.append({"label": "GitHub issue", "text": text, "url": str(links.get("github_link") or "")})
    known = {"servicenow_link", "github_link"}
    for key, value in links.items():  # links added later by other parts of the agent show up as they are
        if key.endswith("_link") and key not in known:
            found.append({"label": key[:-5].replace("_", " "), "text": str(value), "url": str(value)})
    return found


@dataclass
class ConsoleReader:
    store: Any  # SqlIncidentStore
    results: Any  # SqlInvestigationStore
    actions: Any  # SqlActionStore
    outbox: Any  # SqlOutbox

    def incidents(self, now: datetime) -> list[dict[str, Any]]:
        rows = []
        for incident in self.store.list_incidents()[:MAX_INCIDENTS]:
            hypotheses = [h.model_dump(mode="json") for h in self.results.hypotheses(incident.id)]
            rows.append(
                {
                    "id": incident.id,
                    "title": incident.title or ", ".join(a.alarm_name for a in incident.alarms) or incident.id,
                    "status": incident.status.value,
                    "service": incident.service,
                    "severity": incident.severity,
                    "age": age(incident.first_event_at, now),
                    "top": hypothesis_words(hypotheses[0]) if hypotheses else "not investigated yet",
                }
            )
        return rows

    def incident(self, incident_id: str, now: datetime) -> dict[str, Any] | None:
        incident = self.store.get_incident(incident_id)
        if incident is None:
            return None
        evidence = {e.id: e.model_dump(mode="json") for e in self.results.evidence(incident_id)}
        found = self.results.hypotheses(incident_id)
        hypotheses = [self._hypothesis(h.model_dump(mode="json"), evidence) for h in found]
        cited = {e["id"] for h in hypotheses for e in h["for"] + h["against"]}
        return {
            "id": incident.id,
            "title": incident.title,
            "status": incident.status.value,
            "service": incident.service,
            "severity": incident.severity,
            "age": age(incident.first_event_at, now),
            "alarms": [f"{a.alarm_name} ({a.state.value})" for a in incident.alarms],
            "tickets": tickets(incident.links),
            "timeline": [
                {"at": e.at.strftime("%Y-%m-%d %H:%M:%S"), "kind": e.kind, "message": e.message}
                for e in incident.timeline
            ],
            "hypotheses": hypotheses,
            "model": model_reading(llm_totals(incident)),
            "looked_at": looked_at(list(evidence.values()), cited),
            "gaps": [e for e in evidence.values() if e["kind"] == "gap"],
            "actions": [self._action(a.id, now) for a in self.actions.for_incident(incident_id)],
        }

    @staticmethod
    def _hypothesis(h: dict[str, Any], evidence: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return {
            "words": hypothesis_words(h),
            "summary": h.get("summary", ""),
            "for": [evidence[i] for i in h.get("evidence_for", []) if i in evidence],
            "against": [evidence[i] for i in h.get("evidence_against", []) if i in evidence],
        }

    def _action(self, action_id: str, now: datetime) -> dict[str, Any]:
        record = self.actions.record(action_id)
        action = record.action
        waiting = action.status.value == "proposed" and action.policy.value == "approval"
        # Only a proposal still waiting for a person expires; any other deadline means nothing to the reader.
        expires = record.expires_at if waiting else None
        return {
            **action.model_dump(mode="json"),
            "approvers": record.approvers or "oncall",
            "expires": expires.strftime("%Y-%m-%d %H:%M UTC") if expires else "",
            "expires_in": age(now, expires) if expires and expires > now else "",
            "decidable": waiting,
        }

    def health(self) -> dict[str, Any]:
        counts = self.store.event_counts()
        failing: Counter[str] = Counter()
        for incident in self.store.list_incidents()[:MAX_INCIDENTS]:
            if incident.status.value not in _DONE:
                failing.update(e.source for e in self.results.evidence(incident.id) if e.kind.value == "gap")
        return {
            "ungrouped": counts.get("ungrouped", 0),
            "outbox_pending": len(self.outbox.rows(status="pending")),
            "outbox_failed": len(self.outbox.rows(status="failed")),
            "failing_sources": sorted(failing.items()),
        }


def utc_now() -> datetime:
    return datetime.now(UTC)
