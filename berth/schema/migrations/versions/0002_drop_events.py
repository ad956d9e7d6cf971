"""drop the events table: pushes, pulls and deletes are usage-log entries (log_entries)

Revision ID: 0002_drop_events
Revises: 0001
Create Date: 2026-12-07 01:15:00

The rows are not copied: they were a lossy, buffered record that only repository stats
and popularity read; both read ``log_entries`` now.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_drop_events"
down_revision = "32fba2030238"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_repo_time")
    op.drop_table("events")


def downgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("namespace", sa.String(length=255), nullable=False),
        sa.Column("repository", sa.String(length=255), nullable=True),
        sa.Column("actor", sa.String(length=255), nullable=True),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("tag", sa.String(length=255), nullable=True),
        sa.Column("digest", sa.String(length=200), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=True),
        sa.Column(
            "created_at", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events_repo_time", ["namespace", "repository", "created_at"], unique=False
        )
