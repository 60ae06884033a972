"""The outbox relay: claims due rows and delivers them to ServiceNow and GitHub (see `operations`).

One relay instance can serve one target (`run_once(target=...)`), so the daemon runs one per destination and a
rate-limited ServiceNow never delays GitHub, nor the reverse. Rows are claimed (`Outbox.claim`) before
delivery and delivered inside `Outbox.exclusive(incident, target)`, so two replicas never deliver the same row,
nor run two find-then-create calls for one incident side by side.

A failure is recorded with `mark_retry` and its error text, with anything that looks like a credential
redacted. A tracker that asks to be left alone (429 `Retry-After`, GitHub rate limits: an exception with a
`retry_after` in seconds) gets exactly that delay on the row instead of a sleep that would hold the relay.
When the second of the ServiceNow incident and the GitHub issue is created, the rows that write each one's link
into the other (`messages.cross_links`) are queued in the transaction that records it.
A row that gives up is logged (`outbox_row_failed`), counted (`on_failed`), and, when it was the creation of
the ticket or issue, noted on the other tracker so its followers hear of it; the store writes the incident's
timeline entries in the same transaction (`store.outbox_failures`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import timedelta
from functools import partial
from typing import Any, Protocol

from oncall_agent.coordination.messages import creation_failed, cross_links
from oncall_agent.coordination.operations import OPERATIONS, NotReady, Operations, Permanent, Row, redact
from oncall_agent.observability import get_logger
from oncall_agent.ports import IssueTracker, Pager, TicketTracker
from oncall_agent.store.outbox import OutboxItem

__all__ = ["OPERATIONS", "Outbox", "OutboxRelay", "redact"]

log = get_logger(__name__)

CLAIM_BATCH = 10  # rows claimed at a time: small, so a slow tracker never sits on many claimed rows
BUSY_DELAY = timedelta(seconds=1)  # another replica is delivering for the same incident and target
FAILED = "failed"
ENSURED = {"servicenow.ensure_incident": "the ServiceNow incident", "github.ensure_issue": "the GitHub issue"}


class Attempt(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def attempts(self) -> int: ...
    @property
    def last_error(self) -> str | None: ...


class Outbox(Protocol):
    def claim(self, owner: str, limit: int = ..., target: str | None = ...) -> Sequence[Row]: ...

    def exclusive(self, incident_id: str, target: str) -> AbstractContextManager[bool]: ...

    def release(self, row_id: int, delay: timedelta = ...) -> None: ...

    def renew(self, row_id: int, owner: str) -> bool: ...

    def links(self, incident_id: str) -> dict[str, str]: ...

    def enqueue(self, items: Sequence[OutboxItem]) -> int: ...

    def mark_delivered(
        self,
        row_id: int,
        result: dict[str, Any] | None = ...,
        links: Mapping[str, str] | None = ...,
        follow: Callable[[Mapping[str, str]], Sequence[OutboxItem]] | None = ...,
    ) -> None: ...

    def mark_retry(self, row_id: int, error: str, backoff: timedelta | None = ...) -> Attempt: ...

    def mark_failed(self, row_id: int, error: str) -> Attempt: ...


class OutboxRelay:
    def __init__(
        self,
        outbox: Outbox,
        tickets: TicketTracker | None,
        issues: IssueTracker | None,
        github_repo_for: Callable[[str], str | None],
        *,
        owner: str = "relay",
        on_failed: Callable[[str, str], None] = lambda target, operation: None,
        pager: Pager | None = None,
    ) -> None:
        """`github_repo_for(incident_id)`: the repository for GitHub rows whose payload and links name none.
        `owner`: the name claims record (unique per replica). `on_failed(target, operation)`: a row gave up."""
        self._outbox = outbox
        self._ops = Operations(tickets, issues, outbox.links, github_repo_for, pager)
        self._configured = {"servicenow": tickets is not None, "github": issues is not None, "sns": pager is not None}
        self._owner = owner
        self._on_failed = on_failed

    def run_once(self, limit: int = 50, target: str | None = None) -> int:
        """Claim and deliver up to `limit` due rows (of `target`, or of every target); returns how many were
        delivered. Rows that wait behind an earlier row of the same incident and target are picked up in the
        same run once that row is delivered."""
        delivered = handled = 0
        while handled < limit:
            batch = self._outbox.claim(self._owner, min(limit - handled, CLAIM_BATCH), target)
            if not batch:
                break
            for row in batch:
                delivered += self._deliver(row)
            handled += len(batch)
        return delivered

    def _deliver(self, row: Row) -> int:
        with self._outbox.exclusive(row.incident_id, row.target) as mine:
            if not mine:
                self._outbox.release(row.id, BUSY_DELAY)
                return 0
            # Rows of a batch wait their turn: one whose claim ran out meanwhile may have been taken over and
            # delivered by another replica (never at the same time: that one held the lock above).
            if not self._outbox.renew(row.id, self._owner):
                return 0
            return self._attempt(row)

    def _attempt(self, row: Row) -> int:
        try:
            outcome = self._ops.call(row)
        except Permanent as exc:
            self._gave_up(row, self._outbox.mark_failed(row.id, redact(f"{row.operation}: {exc}")))
            return 0
        except NotReady as exc:
            self._gave_up(row, self._outbox.mark_retry(row.id, redact(f"{row.operation}: waiting: {exc}")))
            return 0
        except Exception as exc:  # noqa: BLE001 - any tracker failure is retried with backoff; the text says what happened
            delay = _asked_delay(exc)
            if delay is not None:
                log.warning("outbox_rate_limited", target=row.target, operation=row.operation, seconds=delay.seconds)
            error = redact(f"{row.operation}: {type(exc).__name__}: {exc}")
            self._gave_up(row, self._outbox.mark_retry(row.id, error, backoff=delay))
            return 0
        # The second record created queues the cross-links (each record names the other) in the same transaction.
        follow = partial(cross_links, row.incident_id) if row.operation in ENSURED else None
        self._outbox.mark_delivered(row.id, outcome.result, outcome.links or None, follow)
        return 1

    def _gave_up(self, row: Row, attempt: Attempt) -> None:
        """Make a row that will not be retried again visible (the store has written the timeline entries)."""
        if attempt.status != FAILED:
            return
        log.error(
            "outbox_row_failed",
            incident=row.incident_id,
            target=row.target,
            operation=row.operation,
            row_id=row.id,
            attempts=attempt.attempts,
            error=redact(attempt.last_error or ""),
        )
        self._on_failed(row.target, row.operation)
        if row.operation in ENSURED:
            other = "github" if row.target == "servicenow" else "servicenow"
            if self._configured[other]:
                note = creation_failed(row.incident_id, ENSURED[row.operation], attempt.last_error or "", other)
                self._outbox.enqueue([note])


def _asked_delay(exc: Exception) -> timedelta | None:
    """The wait a rate-limited tracker asked for (adapters put it on their errors as `retry_after` seconds)."""
    seconds = getattr(exc, "retry_after", None)
    if isinstance(seconds, (int, float)) and seconds > 0:
        return timedelta(seconds=max(float(seconds), 1.0))
    return None
