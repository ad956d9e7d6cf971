"""usage-log archive files (log rotation) and day counts (aggregates)

Revision ID: 0100_log_archives
Revises: 0002_drop_events
Create Date: 2026-12-07 04:00:00

One row per archive file that rotation (FEATURE_ACTION_LOG_ROTATION) wrote into storage,
written in the transaction that deletes the archived ``log_entries`` rows; and the counts of
closed days per aggregate filter (``log_day_counts``), so a month's aggregate counts each past
day once. ``log_entries``
itself is unchanged: its (namespace|repository|performer, created_at) indexes already serve
the logs API's keyset pages.
"""

import sqlalchemy as sa
from alembic import op

revision = "0100_log_archives"
down_revision = "0100_notifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_archives",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("digest", sa.String(length=160), nullable=False),
        sa.Column("first_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("last_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("entries", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("size", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "created_at", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_archives")),
        sa.UniqueConstraint("name", name=op.f("uq_log_archives_name")),
    )

    op.create_table(
        "log_day_counts",
        sa.Column("scope", sa.String(length=255), nullable=False),
        sa.Column("day", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("count", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("scope", "day", "kind", name=op.f("pk_log_day_counts")),
    )


def downgrade() -> None:
    op.drop_table("log_day_counts")
    op.drop_table("log_archives")
