"""What the investigation tells ServiceNow and GitHub, as outbox items with stable keys (a replayed node
enqueues nothing new: the outbox ignores a key it already holds)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from oncall_agent.coordination.render import (
    GITHUB_PREFIX,
    SERVICENOW_PREFIX,
    IncidentReport,
    github_issue_body,
    github_line,
    issue_marker,
    md,
    servicenow_description,
    servicenow_line,
    short_description,
)
from oncall_agent.domain.action import ActionStatus, PolicyDecision, ProposedAction
from oncall_agent.domain.catalog import Service
from oncall_agent.domain.evidence import Evidence, Hypothesis
from oncall_agent.store.outbox import OutboxItem

RESOLVED_CODE = "Solved (Permanently)"


class OutboxMessenger:
    """`groups` maps a team to its ServiceNow assignment group, `assignees` a team to GitHub logins (settings
    `escalation`); `console_url` is where people open the console (settings `console.base_url`)."""

    def __init__(
        self,
        catalog: list[Service],
        default_repo: str | None,
        *,
        servicenow: bool,
        github: bool,
        groups: Mapping[str, str] | None = None,
        assignees: Mapping[str, list[str]] | None = None,
        console_url: str | None = None,
        paging: bool = False,
    ) -> None:
        self._catalog = {s.name: s for s in catalog}
        self._default_repo = default_repo
        self._servicenow = servicenow
        self._github = github
        self._groups = dict(groups or {})
        self._assignees = {team: list(logins) for team, logins in (assignees or {}).items()}
        self._console_url = console_url
        self._paging = paging

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
        actions = [ProposedAction.model_validate(a) for a in view.get("actions", [])]
        waiting = [a for a in actions if a.policy is PolicyDecision.APPROVAL and a.status is ActionStatus.PROPOSED]
        severity = scope.get("severity") or {}
        return IncidentReport(
            incident_id=scope["incident_id"],
            service=scope["service"],
            title=f"{scope['alarm_name']} ({headline})",
            status="awaiting approval" if waiting else "investigating",
            severity=str(severity.get("text") or severity.get("level") or ""),
            summary=summary(scope, top, waiting),
            alarm_name=scope["alarm_name"],
            hypotheses=hypotheses,
            evidence={e["id"]: Evidence.model_validate(e) for e in view.get("evidence", [])},
            actions=actions,
            console_url=self._console_url,
            api_url=self._console_url,  # the console and the API are served together
            linked=self._linked(scope["service"]),
            llm=view.get("llm"),
        )

    def _linked(self, service: str) -> frozenset[str]:
        """The trackers whose record the other one names once both exist (see `cross_links`)."""
        both = self._servicenow and self._github and self.repo_for(service) is not None
        return frozenset({"servicenow", "github"}) if both else frozenset()

    def escalated(
        self, incident_id: str, team: str, severity: Mapping[str, Any] | None, reason: str = ""
    ) -> list[OutboxItem]:
        """What makes an escalation reach people: the ServiceNow incident assigned to the team's group with
        impact/urgency from the severity (ServiceNow derives the priority), the team's people assigned on the
        GitHub issue."""
        key = f"{incident_id}:escalated"
        items: list[OutboxItem] = []
        if self._servicenow:
            payload = {
                "assignment_group": self._groups.get(team),
                "impact": int((severity or {}).get("impact") or 2),
                "urgency": int((severity or {}).get("urgency") or 2),
            }
            items.append(OutboxItem(f"{key}:servicenow", incident_id, "servicenow", "servicenow.escalate", payload))
        logins = self._assignees.get(team)
        if self._github and logins:
            items.append(OutboxItem(f"{key}:github", incident_id, "github", "github.assign", {"assignees": logins}))
        if self._paging:
            items.append(
                OutboxItem(f"{key}:sns", incident_id, "sns", "sns.publish", page(incident_id, team, severity, reason))
            )
        return items

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


def page(incident_id: str, team: str, severity: Mapping[str, Any] | None, reason: str) -> dict[str, Any]:
    """The SNS page: a subject a phone shows, and the facts a paging service routes on."""
    level = str((severity or {}).get("level") or "unknown")
    return {
        "subject": f"[{level}] oncall-agent escalated {incident_id} to {team}",
        "message": {
            "incident_id": incident_id,
            "team": team,
            "severity": level,
            "reason": reason,
            "details": dict(severity or {}),
        },
    }


def summary(scope: Mapping[str, Any], top: Hypothesis | None, waiting: list[ProposedAction]) -> str:
    """The paragraph a person reads first: what fired, the likely cause, what the agent needs from people."""
    text = f"Alarm {scope['alarm_name']} fired for {scope['service']}"
    text += f" at {str(scope['onset'])[:16].replace('T', ' ')} UTC." if scope.get("onset") else "."
    if top is not None:
        cause = f"{top.category.value} ({top.culprit})" if top.culprit else top.category.value
        text += f" The most likely cause is {cause}, {top.confidence:.0%} confident."
    else:
        text += " No cause stands out yet."
    if waiting:
        kinds = ", ".join(sorted({a.kind for a in waiting}))
        text += f" Waiting for someone to approve or reject: {kinds} (see How to approve below)."
    return text


def creation_failed(incident_id: str, missing: str, error: str, target: str) -> OutboxItem:
    """A note on the other tracker (`target`) saying `missing` (the ticket or issue) was never created: the
    people following the incident there are the escalation path when one tracker refuses."""
    key = f"{incident_id}:creation-failed:{target}"
    text = f"Escalation: {missing} for incident {incident_id} could not be created ({error}). Follow it here."
    if target == "github":
        return OutboxItem(key, incident_id, "github", "github.comment", {"body": str(md(text, 2000)), "key": key})
    return OutboxItem(key, incident_id, "servicenow", "servicenow.work_note", {"note": text, "key": key})


def cross_links(incident_id: str, links: Mapping[str, str]) -> list[OutboxItem]:
    """Once both records exist, the line in each that names the other (the placeholder the first rendering
    left). Queued when the second creation is delivered, in the same transaction that records its link
    (`OutboxRelay`); the keys are per incident, so whichever replica sees both records first queues them once."""
    to_issue, to_ticket = servicenow_line(links), github_line(links)
    if to_issue is None or to_ticket is None or not links.get("servicenow_sys_id"):
        return []
    return [
        OutboxItem(
            f"{incident_id}:link:github",
            incident_id,
            "github",
            "github.link",
            {"prefix": SERVICENOW_PREFIX, "line": str(to_issue)},
        ),
        OutboxItem(
            f"{incident_id}:link:servicenow",
            incident_id,
            "servicenow",
            "servicenow.link",
            {"prefix": GITHUB_PREFIX, "line": str(to_ticket)},
        ),
    ]
