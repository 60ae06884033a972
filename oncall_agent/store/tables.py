"""The store's tables (SQLAlchemy Core) and the column types that make SQLite and PostgreSQL behave alike.

The schema itself is created by the Alembic migrations in `migrations/versions`; these Table objects describe
the same schema for queries. A change here needs a new migration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect


class UtcDateTime(sa.TypeDecorator[datetime]):
    """An aware UTC datetime on every backend.

    PostgreSQL keeps the zone (timestamptz); SQLite has no zone, so values are stored as naive UTC (which also
    keeps the stored strings sortable) and handed back as aware UTC. Naive values are refused on the way in:
    guessing their zone is how local-time bugs start.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store only accepts aware datetimes")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# 64-bit ids on PostgreSQL; SQLite only autoincrements a column declared exactly INTEGER PRIMARY KEY.
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# JSONB on PostgreSQL (indexable, compact), JSON text elsewhere.
Json: sa.types.TypeEngine[Any] = sa.JSON().with_variant(JSONB(), "postgresql")

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

alarm_events = sa.Table(
    "alarm_events",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("channel_message_id", sa.Text()),
    sa.Column("alarm_arn", sa.Text(), nullable=False),
    sa.Column("alarm_name", sa.Text(), nullable=False),
    sa.Column("new_state", sa.String(32), nullable=False),
    sa.Column("state_timestamp", UtcDateTime(), nullable=False),
    sa.Column("payload", Json, nullable=False),
    sa.Column("deliveries", sa.Integer(), nullable=False, server_default=sa.text("1")),
    sa.Column("grouped", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("incident_id", sa.ForeignKey("incidents.id", ondelete="SET NULL")),
    sa.Column("grouping_outcome", sa.String(32)),
    # (grouped, id): the grouper's "next ungrouped event in arrival order" is an index range scan.
    sa.Index("ix_alarm_events_grouped_id", "grouped", "id"),
)

event_keys = sa.Table(
    "event_keys",
    metadata,
    sa.Column("key", sa.Text(), primary_key=True),
    sa.Column("event_id", sa.ForeignKey("alarm_events.id", ondelete="CASCADE"), nullable=False, index=True),
)

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("fingerprint", sa.Text(), nullable=False),
    sa.Column("service", sa.Text(), nullable=False, index=True),
    sa.Column("status", sa.String(32), nullable=False, index=True),
    sa.Column("severity", sa.String(32), nullable=False, server_default="unknown"),
    sa.Column("first_event_at", UtcDateTime(), nullable=False),
    sa.Column("last_event_at", UtcDateTime(), nullable=False),
    sa.Column("opened_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Column("links", Json, nullable=False),
    sa.Column("title", sa.Text(), nullable=True),
    sa.Column("resolution", Json, nullable=True),
)

incident_alarms = sa.Table(
    "incident_alarms",
    metadata,
    sa.Column("incident_id", sa.ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True, nullable=False),
    sa.Column("alarm_arn", sa.Text(), primary_key=True),
    sa.Column("alarm_name", sa.Text(), nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("state_timestamp", UtcDateTime(), nullable=False),
)

timeline = sa.Table(
    "timeline",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("message", sa.Text(), nullable=False),
    sa.Column("data", Json, nullable=False),
)


def _incident_fk() -> sa.Column[str]:
    return sa.Column("incident_id", sa.String(64), sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False)


incidents.append_column(sa.Column("claimed_by", sa.Text(), nullable=True))
incidents.append_column(sa.Column("lease_until", UtcDateTime(), nullable=True))
# Set when one of the incident's actions is decided or expires; a worker resumes a waiting graph only then.
incidents.append_column(
    sa.Column("resume_requested", sa.Boolean(), nullable=False, server_default=sa.false(), default=False)
)

evidence = sa.Table(
    "evidence",
    metadata,
    _incident_fk(),
    sa.Column("id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("source", sa.Text(), nullable=False),
    sa.Column("at", UtcDateTime(), nullable=True),
    sa.Column("entity", sa.Text(), nullable=False),
    sa.Column("summary", sa.Text(), nullable=False),
    sa.Column("details", Json, nullable=False),
    sa.Column("link", sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint("incident_id", "id"),
)

hypotheses = sa.Table(
    "hypotheses",
    metadata,
    _incident_fk(),
    sa.Column("rank", sa.Integer(), nullable=False),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("culprit", sa.Text(), nullable=True),
    sa.Column("confidence", sa.Float(), nullable=False),
    sa.Column("evidence_for", Json, nullable=False),
    sa.Column("evidence_against", Json, nullable=False),
    sa.Column("features", Json, nullable=False),
    sa.Column("summary", sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint("incident_id", "rank"),
)

actions = sa.Table(
    "actions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column(
        "incident_id", sa.String(64), sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("parameters", Json, nullable=False),
    sa.Column("runbook_id", sa.Text(), nullable=False),
    sa.Column("risk", sa.String(16), nullable=False),
    sa.Column("policy", sa.String(16), nullable=False),
    sa.Column("approvers", sa.Text(), nullable=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("decided_by", sa.Text(), nullable=True),
    sa.Column("decided_at", UtcDateTime(), nullable=True),
    sa.Column("decided_via", sa.String(32), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=True),
    sa.Column("plan", Json, nullable=True),
    sa.Column("result", Json, nullable=True),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(255), nullable=False, unique=True),
    _incident_fk(),
    sa.Column("target", sa.String(32), nullable=False),
    sa.Column("operation", sa.String(64), nullable=False),
    sa.Column("payload", Json, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("delivered_at", UtcDateTime(), nullable=True),
    sa.Column("result", Json, nullable=True),
    # Which relay is delivering the row, until when (a relay that died leaves a claim that expires).
    sa.Column("claimed_by", sa.Text(), nullable=True),
    sa.Column("claim_expires_at", UtcDateTime(), nullable=True),
    sa.Index(None, "status", "next_attempt_at"),
)

# Named leader leases (`poller`, `reaper`, ...): the job of that name runs only on the holder, until expires_at.
# The theoretical arrival time (epoch seconds) of a shared rate bucket (store.rate_limits: GCRA).
rate_limits = sa.Table(
    "rate_limits",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("tat", sa.Float(), nullable=False),
)

leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.Text(), nullable=False),
    sa.Column("acquired_at", UtcDateTime(), nullable=False),
    sa.Column("renewed_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
)
