"""per-namespace rate limits set by superusers

Revision ID: 0102_rate_limit_overrides
Revises: 0101_pull_statistics
Create Date: 2026-12-07 04:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0102_rate_limit_overrides"
down_revision = "0101_pull_statistics"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "rate_limit_overrides",
        sa.Column("namespace_id", _ID, nullable=False),
        sa.Column("surface", sa.String(length=8), nullable=False),
        sa.Column("caller_limit", _ID, nullable=True),
        sa.Column("namespace_limit", _ID, nullable=True),
        sa.Column("window_s", _ID, nullable=False),
        sa.Column("updated_at", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
            name=op.f("fk_rate_limit_overrides_namespace_id_namespaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("namespace_id", "surface", name=op.f("pk_rate_limit_overrides")),
    )


def downgrade() -> None:
    op.drop_table("rate_limit_overrides")
