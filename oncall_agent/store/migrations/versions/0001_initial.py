"""Initial schema: alarm events and their dedup keys, incidents, their alarms and timelines.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Self-contained on purpose (plain column types, no imports from the application): a migration must keep
producing the same schema whatever later code does. Naming follows `tables.metadata`'s naming convention.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def _ts(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("service", sa.Text(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(32), nullable=False, server_default="unknown"),
        _ts("first_event_at"),
        _ts("last_event_at"),
        _ts("opened_at"),
        _ts("updated_at"),
        sa.Column("links", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
    )
    op.create_index("ix_incidents_status", "incidents", ["status"])
    op.create_index("ix_incidents_service", "incidents", ["service"])

    op.create_table(
        "alarm_events",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        _ts("received_at"),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("channel_message_id", sa.Text(), nullable=True),
        sa.Column("alarm_arn", sa.Text(), nullable=False),
        sa.Column("alarm_name", sa.Text(), nullable=False),
        sa.Column("new_state", sa.String(32), nullable=False),
        _ts("state_timestamp"),
        sa.Column("payload", _JSON, nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False, server_default=sa.text("1")),
        sa.Column("grouped", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("incident_id", sa.String(64), nullable=True),
        sa.Column("grouping_outcome", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alarm_events"),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_alarm_events_incident_id_incidents",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_alarm_events_grouped_id", "alarm_events", ["grouped", "id"])

    op.create_table(
        "event_keys",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("event_id", _ID, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_event_keys"),
        sa.ForeignKeyConstraint(
            ["event_id"], ["alarm_events.id"], name="fk_event_keys_event_id_alarm_events", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_event_keys_event_id", "event_keys", ["event_id"])

    op.create_table(
        "incident_alarms",
        sa.Column("incident_id", sa.String(64), nullable=False),
        sa.Column("alarm_arn", sa.Text(), nullable=False),
        sa.Column("alarm_name", sa.Text(), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        _ts("state_timestamp"),
        sa.PrimaryKeyConstraint("incident_id", "alarm_arn", name="pk_incident_alarms"),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_incident_alarms_incident_id_incidents",
            ondelete="CASCADE",
        ),
    )

    op.create_table(
        "timeline",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(64), nullable=False),
        _ts("at"),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_timeline"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_timeline_incident_id_incidents", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_timeline_incident_id", "timeline", ["incident_id"])


def downgrade() -> None:
    for table in ("timeline", "incident_alarms", "event_keys", "alarm_events", "incidents"):
        op.drop_table(table)
