"""Outbox rows as the code sees them: `OutboxItem` (what a producer queues, validated), `OutboxRow` (a stored
row with its delivery state and claim) and `enqueue`, which queues items inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from oncall_agent.domain.errors import StoreError
from oncall_agent.store.outbox_claims import PENDING
from oncall_agent.store.tables import outbox

DELIVERED = "delivered"
FAILED = "failed"
STATUSES = (PENDING, DELIVERED, FAILED)
TARGETS = frozenset({"servicenow", "github", "sns"})


@dataclass(frozen=True)
class OutboxItem:
    key: str
    incident_id: str
    target: str  # servicenow | github | sns
    operation: str  # e.g. servicenow.ensure_incident, github.comment
    payload: dict[str, Any]

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"outbox target {self.target!r} is not one of {sorted(TARGETS)}")
        if not self.operation.startswith(f"{self.target}."):
            raise ValueError(f"outbox operation {self.operation!r} does not belong to target {self.target!r}")
        if not self.key or len(self.key) > 255:
            raise ValueError("outbox key must be 1..255 characters")


@dataclass(frozen=True)
class OutboxRow:
    id: int
    key: str
    incident_id: str
    target: str
    operation: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    result: dict[str, Any] | None
    claimed_by: str | None = None
    claim_expires_at: datetime | None = None


def as_row(row: Any) -> OutboxRow:
    return OutboxRow(**{column: getattr(row, column) for column in OutboxRow.__dataclass_fields__})


def enqueue(connection: Connection, items: Sequence[OutboxItem], now: datetime) -> int:
    """Queue `items` inside the caller's transaction, ignoring keys already queued; returns rows inserted."""
    if not items:
        return 0
    rows = [
        {
            "key": item.key,
            "incident_id": item.incident_id,
            "target": item.target,
            "operation": item.operation,
            "payload": item.payload,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for item in items
    ]
    dialect = connection.dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql.insert(outbox).on_conflict_do_nothing(index_elements=["key"])
    elif dialect == "sqlite":
        statement = sqlite.insert(outbox).on_conflict_do_nothing(index_elements=["key"])
    else:  # pragma: no cover - the store supports these two
        raise StoreError(f"outbox: unsupported database {dialect}")
    statement = statement.returning(outbox.c.id)  # rowcount is not reliable for ON CONFLICT on every driver
    inserted = 0
    for row in rows:  # one by one, so ids follow the order of the items
        inserted += len(connection.execute(statement, row).all())
    return inserted
