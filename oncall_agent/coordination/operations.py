"""How each outbox operation is carried out against ServiceNow and GitHub: one idempotent tracker call per row.

| operation                    | payload                                              | links it records          |
|------------------------------|------------------------------------------------------|---------------------------|
| servicenow.ensure_incident   | correlation_id, short_description, description, ci   | servicenow_sys_id/number  |
| servicenow.work_note         | note, key                                            |                           |
| servicenow.resolve           | close_notes, close_code                              | servicenow_state          |
| servicenow.ensure_change     | action_id, correlation_id, short_description, desc.  | change:<action>:sys_id/.. |
| github.ensure_issue          | repo, marker, title, body, labels                    | github_issue, github_repo |
| github.comment               | body, key                                            |                           |
| github.labels                | labels                                               |                           |
| github.close                 | (none)                                               | github_state              |
| servicenow.link, github.link | prefix, line (the line naming the other record)      |                           |

Every call is find-or-create or keyed, so a crash after the remote write and before `mark_delivered` only
repeats a call that finds its earlier result. An operation that needs a ticket or issue that does not exist
yet raises `NotReady`; a row that can never work raises `Permanent`. A target with no tracker configured is
delivered as `{"skipped": ...}` so it never blocks the queue. `redact` masks credentials in error text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from oncall_agent.ports import ChangeTracker, IssueRef, IssueTracker, Pager, TicketRef, TicketTracker

OPERATIONS = frozenset(
    {
        "servicenow.ensure_incident",
        "servicenow.work_note",
        "servicenow.resolve",
        "servicenow.ensure_change",
        "servicenow.escalate",
        "servicenow.link",
        "github.ensure_issue",
        "github.comment",
        "github.labels",
        "github.close",
        "github.assign",
        "github.link",
        "sns.publish",
    }
)


class Row(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def incident_id(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def operation(self) -> str: ...
    @property
    def payload(self) -> dict[str, Any]: ...
    @property
    def key(self) -> str: ...


class NotReady(Exception):
    """The row needs a link (ticket, issue) that does not exist yet: retry later."""


class Permanent(Exception):
    """The row can never be delivered as written (unknown operation, malformed payload)."""


@dataclass(frozen=True)
class Delivered:
    result: dict[str, Any]
    links: dict[str, str]


_SECRETS = [
    (re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [redacted]"),
    (
        re.compile(
            r"(?i)\b(authorization|x-api-key|api[_-]?key|token|secret|password|passwd)(\"?\s*[:=]\s*\"?)[^\s\",;&]+"
        ),
        r"\1\2[redacted]",
    ),
    (re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b"), "[redacted]"),
    (re.compile(r"(https?://)[^/\s:@]+:[^/\s@]+@"), r"\1[redacted]@"),
]


def redact(text: str, limit: int = 500) -> str:
    """Error text fit for the database and logs: credentials masked, one line, bounded."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ticket(links: Mapping[str, str]) -> TicketRef:
    if not links.get("servicenow_sys_id"):
        raise NotReady("the ServiceNow incident does not exist yet")
    return TicketRef(
        system_id=links["servicenow_sys_id"],
        number=links.get("servicenow_number", ""),
        state=links.get("servicenow_state", ""),
        link=links.get("servicenow_link"),
    )


def _required(payload: Mapping[str, Any], *names: str) -> list[Any]:
    missing = [name for name in names if name not in payload]
    if missing:
        raise Permanent(f"payload lacks {', '.join(missing)}")
    return [payload[name] for name in names]


def _ticket_links(ref: TicketRef) -> dict[str, str]:
    links = {"servicenow_sys_id": ref.system_id, "servicenow_number": ref.number, "servicenow_state": ref.state}
    if ref.link:
        links["servicenow_link"] = ref.link
    return links


def _issue_links(repo: str, ref: IssueRef) -> dict[str, str]:
    links = {"github_repo": repo, "github_issue": str(ref.number), "github_state": ref.state}
    if ref.link:
        links["github_link"] = ref.link
    return links


def change_links(action_id: str, ref: TicketRef) -> dict[str, str]:
    """The incident links that record the change request deciding `action_id`."""
    return {f"change:{action_id}:sys_id": ref.system_id, f"change:{action_id}:number": ref.number}


def _ensure_change(tickets: TicketTracker, incident: TicketRef, payload: Mapping[str, Any]) -> Delivered:
    if not isinstance(tickets, ChangeTracker):
        raise Permanent("the ServiceNow tracker cannot open change requests")
    action_id, correlation_id, short, description = _required(
        payload, "action_id", "correlation_id", "short_description", "description"
    )
    ref = tickets.ensure_change(correlation_id, short, description, incident.system_id)
    return Delivered({"sys_id": ref.system_id, "number": ref.number}, change_links(action_id, ref))


class Operations:
    """Carries out one row against the configured trackers (None: that target is not configured)."""

    def __init__(
        self,
        tickets: TicketTracker | None,
        issues: IssueTracker | None,
        links: Callable[[str], dict[str, str]],
        github_repo_for: Callable[[str], str | None],
        pager: Pager | None = None,
    ) -> None:
        self._tickets = tickets
        self._pager = pager
        self._issues = issues
        self._links = links
        self._repo_for = github_repo_for

    def call(self, row: Row) -> Delivered:
        """Deliver `row`; raises NotReady, Permanent, or whatever the tracker raised."""
        return self._call(row)

    def _call(self, row: Row) -> Delivered:
        if row.operation not in OPERATIONS:
            raise Permanent("unknown operation")
        if not row.operation.startswith(f"{row.target}."):
            raise Permanent(f"operation does not belong to target {row.target}")
        if row.target == "servicenow":
            if self._tickets is None:
                return Delivered({"skipped": "ServiceNow is not configured"}, {})
            return self._servicenow(self._tickets, row)
        if row.target == "github":
            if self._issues is None:
                return Delivered({"skipped": "GitHub is not configured"}, {})
            return self._github(self._issues, row)
        if row.target == "sns":
            if self._pager is None:
                return Delivered({"skipped": "no SNS topic is configured for paging"}, {})
            subject, message = _required(row.payload, "subject", "message")
            return Delivered({"message_id": self._pager.page(subject, message, row.key)}, {})
        raise Permanent(f"unknown target {row.target!r}")

    def _servicenow(self, tickets: TicketTracker, row: Row) -> Delivered:
        payload = row.payload
        if row.operation == "servicenow.ensure_incident":
            correlation_id, short, description = _required(
                payload, "correlation_id", "short_description", "description"
            )
            ref = tickets.ensure_incident(correlation_id, short, description, payload.get("ci"))
            return Delivered({"sys_id": ref.system_id, "number": ref.number}, _ticket_links(ref))
        ref = _ticket(self._links(row.incident_id))
        if row.operation == "servicenow.work_note":
            (note,) = _required(payload, "note")
            tickets.add_work_note(ref, note, payload.get("key") or row.key)
            return Delivered({"number": ref.number}, {})
        if row.operation == "servicenow.resolve":
            close_notes, close_code = _required(payload, "close_notes", "close_code")
            resolved = tickets.resolve_incident(ref, close_notes, close_code)
            return Delivered({"number": resolved.number, "state": resolved.state}, {"servicenow_state": resolved.state})
        if row.operation == "servicenow.ensure_change":
            return _ensure_change(tickets, ref, payload)
        if row.operation == "servicenow.escalate":
            impact, urgency = _required(payload, "impact", "urgency")
            done = tickets.escalate(ref, payload.get("assignment_group"), int(impact), int(urgency))
            return Delivered({"number": done.number, "state": done.state}, {"servicenow_state": done.state})
        if row.operation == "servicenow.link":
            prefix, line = _required(payload, "prefix", "line")
            tickets.set_description_line(ref, prefix, line)
            return Delivered({"number": ref.number}, {})
        raise Permanent("unknown operation")  # pragma: no cover - OPERATIONS is checked first

    def _github(self, issues: IssueTracker, row: Row) -> Delivered:
        payload = row.payload
        if row.operation == "github.ensure_issue":
            repo = payload.get("repo") or self._repo_for(row.incident_id)
            if not repo:
                raise Permanent("no GitHub repository for this incident")
            marker, title, body = _required(payload, "marker", "title", "body")
            ref = issues.ensure_issue(repo, marker, title, body, list(payload.get("labels") or []))
            return Delivered({"number": ref.number, "repo": repo}, _issue_links(repo, ref))
        links = self._links(row.incident_id)
        if not links.get("github_issue") or not links.get("github_repo"):
            raise NotReady("the GitHub issue does not exist yet")
        repo, number = links["github_repo"], int(links["github_issue"])
        if row.operation == "github.comment":
            (body,) = _required(payload, "body")
            issues.comment(repo, number, body, payload.get("key") or row.key)
            return Delivered({"number": number}, {})
        if row.operation == "github.labels":
            (labels,) = _required(payload, "labels")
            issues.set_labels(repo, number, list(labels))
            return Delivered({"number": number, "labels": list(labels)}, {})
        if row.operation == "github.assign":
            (assignees,) = _required(payload, "assignees")
            issues.assign(repo, number, list(assignees))
            return Delivered({"number": number, "assignees": list(assignees)}, {})
        if row.operation == "github.link":
            prefix, line = _required(payload, "prefix", "line")
            issues.set_body_line(repo, number, prefix, line)
            return Delivered({"number": number}, {})
        if row.operation == "github.close":
            closed = issues.close_issue(repo, number)
            return Delivered({"number": closed.number, "state": closed.state}, {"github_state": closed.state})
        raise Permanent("unknown operation")  # pragma: no cover - OPERATIONS is checked first
