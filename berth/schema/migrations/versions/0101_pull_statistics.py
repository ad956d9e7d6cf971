"""pull statistics: pull counts and last pulls per tag name and per manifest digest

Revision ID: 0101_pull_statistics
Revises: 0100_quotas
Create Date: 2026-12-07 04:15:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0101_pull_statistics"
down_revision = "0100_quotas"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _table(name: str, key: str, length: int) -> None:
    op.create_table(
        name,
        sa.Column("repository_id", _ID, nullable=False),
        sa.Column(key, sa.String(length=length), nullable=False),
        sa.Column("pull_count", _ID, nullable=False),
        sa.Column("last_pull_at", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f(f"fk_{name}_repository_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("repository_id", key, name=op.f(f"pk_{name}")),
    )


def upgrade() -> None:
    _table("tag_pull_stats", "tag_name", 255)
    _table("manifest_pull_stats", "digest", 200)


def downgrade() -> None:
    op.drop_table("manifest_pull_stats")
    op.drop_table("tag_pull_stats")
