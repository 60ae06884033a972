"""The outbox relay: delivers queued ServiceNow and GitHub writes, one idempotent call per row.

Operations and payloads:

| operation                    | payload                                              | links it records          |
|------------------------------|------------------------------------------------------|---------------------------|
| servicenow.ensure_incident   | correlation_id, short_description, description, ci   | servicenow_sys_id/number  |
| servicenow.work_note         | note, key                                            |                           |
| servicenow.resolve           | close_notes, close_code                              | servicenow_state          |
| github.ensure_issue          | repo, marker, title, body, labels                    | github_issue, github_repo |
| github.comment               | body, key                                            |                           |
| github.labels                | labels                                               |                           |
| github.close                 | (none)                                               | github_state              |

Every call is find-or-create or keyed, so a crash after the remote write and before `mark_delivered`
only repeats a call that finds its earlier result. An operation that needs a ticket or issue that does not
exist yet is retried later (the outbox hands out the `ensure_*` row first). A failure is recorded with
`mark_retry` and its error text, with anything that looks like a credential redacted. A target with no
tracker configured is marked delivered with `{"skipped": ...}` so it never blocks the queue.

The relay sees the outbox through the `Outbox` protocol (implemented by `store.outbox.SqlOutbox`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from oncall_agent.ports import IssueRef, IssueTracker, TicketRef, TicketTracker

OPERATIONS = frozenset(
    {
        "servicenow.ensure_incident",
        "servicenow.work_note",
        "servicenow.resolve",
        "github.ensure_issue",
        "github.comment",
        "github.labels",
        "github.close",
    }
)


class OutboxEntry(Protocol):
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


class Outbox(Protocol):
    def due(self, limit: int = ...) -> Sequence[OutboxEntry]: ...

    def links(self, incident_id: str) -> dict[str, str]: ...

    def mark_delivered(
        self, row_id: int, result: dict[str, Any] | None = ..., links: Mapping[str, str] | None = ...
    ) -> None: ...

    def mark_retry(self, row_id: int, error: str) -> Any: ...

    def mark_failed(self, row_id: int, error: str) -> None: ...


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


class OutboxRelay:
    def __init__(
        self,
        outbox: Outbox,
        tickets: TicketTracker | None,
        issues: IssueTracker | None,
        github_repo_for: Callable[[str], str | None],
    ) -> None:
        """`github_repo_for(incident_id)`: the repository for GitHub rows whose payload and links name none."""
        self._outbox = outbox
        self._tickets = tickets
        self._issues = issues
        self._repo_for = github_repo_for

    def run_once(self, limit: int = 50) -> int:
        """Deliver up to `limit` due rows; returns how many were delivered. Rows that wait behind an earlier
        row of the same incident and target are picked up in the same run once that row is delivered."""
        delivered = handled = 0
        while handled < limit:
            batch = self._outbox.due(limit - handled)
            if not batch:
                break
            for row in batch:
                delivered += self._deliver(row)
            handled += len(batch)
        return delivered

    def _deliver(self, row: OutboxEntry) -> int:
        try:
            outcome = self._call(row)
        except Permanent as exc:
            self._outbox.mark_failed(row.id, redact(f"{row.operation}: {exc}"))
            return 0
        except NotReady as exc:
            self._outbox.mark_retry(row.id, redact(f"{row.operation}: waiting: {exc}"))
            return 0
        except Exception as exc:  # noqa: BLE001 - any tracker failure is retried with backoff; the text says what happened
            self._outbox.mark_retry(row.id, redact(f"{row.operation}: {type(exc).__name__}: {exc}"))
            return 0
        self._outbox.mark_delivered(row.id, outcome.result, outcome.links or None)
        return 1

    def _call(self, row: OutboxEntry) -> Delivered:
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
        raise Permanent(f"unknown target {row.target!r}")

    def _servicenow(self, tickets: TicketTracker, row: OutboxEntry) -> Delivered:
        payload = row.payload
        if row.operation == "servicenow.ensure_incident":
            correlation_id, short, description = _required(
                payload, "correlation_id", "short_description", "description"
            )
            ref = tickets.ensure_incident(correlation_id, short, description, payload.get("ci"))
            return Delivered({"sys_id": ref.system_id, "number": ref.number}, _ticket_links(ref))
        ref = _ticket(self._outbox.links(row.incident_id))
        if row.operation == "servicenow.work_note":
            (note,) = _required(payload, "note")
            tickets.add_work_note(ref, note, payload.get("key") or row.key)
            return Delivered({"number": ref.number}, {})
        if row.operation == "servicenow.resolve":
            close_notes, close_code = _required(payload, "close_notes", "close_code")
            resolved = tickets.resolve_incident(ref, close_notes, close_code)
            return Delivered({"number": resolved.number, "state": resolved.state}, {"servicenow_state": resolved.state})
        raise Permanent("unknown operation")  # pragma: no cover - OPERATIONS is checked first

    def _github(self, issues: IssueTracker, row: OutboxEntry) -> Delivered:
        payload = row.payload
        if row.operation == "github.ensure_issue":
            repo = payload.get("repo") or self._repo_for(row.incident_id)
            if not repo:
                raise Permanent("no GitHub repository for this incident")
            marker, title, body = _required(payload, "marker", "title", "body")
            ref = issues.ensure_issue(repo, marker, title, body, list(payload.get("labels") or []))
            return Delivered({"number": ref.number, "repo": repo}, _issue_links(repo, ref))
        links = self._outbox.links(row.incident_id)
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
        if row.operation == "github.close":
            closed = issues.close_issue(repo, number)
            return Delivered({"number": closed.number, "state": closed.state}, {"github_state": closed.state})
        raise Permanent("unknown operation")  # pragma: no cover - OPERATIONS is checked first
