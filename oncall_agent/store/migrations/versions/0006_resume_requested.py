"""Incidents get `resume_requested`: set when an action of the incident is decided or expires, cleared when a
worker claims the incident to resume its graph. Workers resume an incident waiting for approval only when it is
set, so an incident with some actions still undecided waits without being resumed over and over.

Existing incidents waiting for approval with a decision already recorded are flagged once, so a decision made
before the upgrade is not lost.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite supports it with a constant default): a batch "move and copy" of `incidents`
    # would drop the old table, and with foreign keys on, ON DELETE CASCADE would empty actions and timeline.
    op.add_column("incidents", sa.Column("resume_requested", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(
        "UPDATE incidents SET resume_requested = TRUE WHERE status = 'awaiting_approval' AND EXISTS "
        "(SELECT 1 FROM actions WHERE actions.incident_id = incidents.id "
        "AND actions.status IN ('approved', 'rejected', 'expired'))"
    )


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("resume_requested")
