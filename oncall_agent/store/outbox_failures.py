"""What a given-up outbox row leaves on its incident, written in the transaction that marks it failed.

Every failed row adds an `outbox_failed` timeline entry (what, where, after how many attempts, the redacted
error). A failed find-or-create row means the ServiceNow incident or GitHub issue was never created, so the
people who follow the incident there were never told: that also records an `escalation` entry. The incident's
status is left alone on purpose: an incident awaiting approval must stay resumable by an approval, and a
running investigation must not find its status changed under it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from oncall_agent.store.incidents import add_timeline
from oncall_agent.store.outbox_claims import ENSURE_OPERATIONS

WHAT_IS_MISSING = {
    "servicenow.ensure_incident": "the ServiceNow incident",
    "github.ensure_issue": "the GitHub issue",
}


def record_failure(connection: Connection, row: Any, now: datetime) -> None:
    """Timeline entries for `row` (an outbox row just marked failed)."""
    data = {
        "outbox_id": row.id,
        "key": row.key,
        "target": row.target,
        "operation": row.operation,
        "attempts": row.attempts,
        "error": row.last_error,
    }
    message = f"{row.operation} gave up after {row.attempts} attempt(s): {row.last_error or 'no error text'}"
    add_timeline(connection, row.incident_id, now, "outbox_failed", message, data)
    if row.operation in ENSURE_OPERATIONS:
        missing = WHAT_IS_MISSING[row.operation]
        add_timeline(
            connection,
            row.incident_id,
            now,
            "escalation",
            f"{missing} was never created: follow this incident here, and retry with `oncall-agent outbox retry`",
            {**data, "reason": "tracker_write_failed"},
        )
