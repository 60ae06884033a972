"""What the investigation tells ServiceNow and GitHub, as outbox items with stable keys (a replayed node
enqueues nothing new: the outbox ignores a key it already holds)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from oncall_agent.coordination.render import (
    IncidentReport,
    github_issue_body,
    issue_marker,
    md,
    servicenow_description,
    short_description,
)
from oncall_agent.domain.action import ProposedAction
from oncall_agent.domain.catalog import Service
from oncall_agent.domain.evidence import Evidence, Hypothesis
from oncall_agent.store.outbox import OutboxItem

RESOLVED_CODE = "Solved (Permanently)"


class OutboxMessenger:
    def __init__(self, catalog: list[Service], default_repo: str | None, *, servicenow: bool, github: bool) -> None:
        self._catalog = {s.name: s for s in catalog}
        self._default_repo = default_repo
        self._servicenow = servicenow
        self._github = github

    def repo_for(self, service: str) -> str | None:
        """The ops repository if one is configured, else the service's own repository."""
        found = self._catalog.get(service)
        return self._default_repo or (found.repo if found else None)

    def repo_for_incident(self, store: Any) -> Callable[[str], str | None]:
        def lookup(incident_id: str) -> str | None:
            incident = store.get_incident(incident_id)
            return self.repo_for(incident.service) if incident else None

        return lookup

    def _report(self, view: dict[str, Any]) -> IncidentReport:
        scope = view["scope"]
        hypotheses = [Hypothesis.model_validate(h) for h in view.get("hypotheses", [])]
        top = hypotheses[0] if hypotheses else None
        headline = f"{top.category.value}: {top.culprit}" if top and top.culprit else "cause not yet known"
        return IncidentReport(
            incident_id=scope["incident_id"],
            service=scope["service"],
            title=f"{scope['alarm_name']} ({headline})",
            status="investigating",
            alarm_name=scope["alarm_name"],
            hypotheses=hypotheses,
            evidence={e["id"]: Evidence.model_validate(e) for e in view.get("evidence", [])},
            actions=[ProposedAction.model_validate(a) for a in view.get("actions", [])],
        )

    def opened(self, view: dict[str, Any]) -> list[OutboxItem]:
        report = self._report(view)
        incident_id, service = report.incident_id, report.service
        items: list[OutboxItem] = []
        if self._servicenow:
            found = self._catalog.get(service)
            items.append(
                OutboxItem(
                    f"{incident_id}:servicenow:open",
                    incident_id,
                    "servicenow",
                    "servicenow.ensure_incident",
                    {
                        "correlation_id": incident_id,
                        "short_description": short_description(report),
                        "description": servicenow_description(report),
                        "ci": found.servicenow_ci if found else None,
                    },
                )
            )
        repo = self.repo_for(service)
        if self._github and repo:
            items.append(
                OutboxItem(
                    f"{incident_id}:github:open",
                    incident_id,
                    "github",
                    "github.ensure_issue",
                    {
                        "repo": repo,
                        "marker": issue_marker(incident_id),
                        "title": short_description(report),
                        "body": github_issue_body(report),
                        "labels": ["oncall-agent", f"service:{service}"],
                    },
                )
            )
        return items

    def progress(self, incident_id: str, key: str, text: str) -> list[OutboxItem]:
        items: list[OutboxItem] = []
        if self._servicenow:
            items.append(
                OutboxItem(
                    f"{key}:servicenow",
                    incident_id,
                    "servicenow",
                    "servicenow.work_note",
                    {"note": text, "key": f"{key}:servicenow"},
                )
            )
        if self._github:
            items.append(
                OutboxItem(
                    f"{key}:github",
                    incident_id,
                    "github",
                    "github.comment",
                    {"body": str(md(text, 2000)), "key": f"{key}:github"},
                )
            )
        return items

    def closed(self, incident_id: str, resolved: bool, text: str) -> list[OutboxItem]:
        key = f"{incident_id}:closed"
        items = self.progress(incident_id, key, text)
        if self._servicenow and resolved:
            items.append(
                OutboxItem(
                    f"{key}:servicenow:resolve",
                    incident_id,
                    "servicenow",
                    "servicenow.resolve",
                    {"close_notes": text, "close_code": RESOLVED_CODE},
                )
            )
        if self._github:
            label = "status:resolved" if resolved else "status:escalated"
            items.append(
                OutboxItem(
                    f"{key}:github:labels", incident_id, "github", "github.labels", {"labels": ["oncall-agent", label]}
                )
            )
            if resolved:
                items.append(OutboxItem(f"{key}:github:close", incident_id, "github", "github.close", {}))
        return items
