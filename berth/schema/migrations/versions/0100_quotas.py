"""namespace quotas, their Warning/Reject limits, and the quota events' cooldown

Revision ID: 0100_quotas
Revises: 0002_drop_events
Create Date: 2026-12-07 04:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0100_quotas"
down_revision = "0100_log_archives"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "namespace_quotas",
        sa.Column("id", _ID, nullable=False),
        sa.Column("namespace_id", _ID, nullable=False),
        sa.Column("limit_bytes", _ID, nullable=False),
        sa.Column("created_at", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
            name=op.f("fk_namespace_quotas_namespace_id_namespaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_namespace_quotas")),
        sa.UniqueConstraint("namespace_id", name=op.f("uq_namespace_quotas_namespace_id")),
    )
    op.create_table(
        "quota_limits",
        sa.Column("id", _ID, nullable=False),
        sa.Column("quota_id", _ID, nullable=False),
        sa.Column("namespace_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("percent", _ID, nullable=False),
        sa.Column("created_at", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
            name=op.f("fk_quota_limits_namespace_id_namespaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["quota_id"],
            ["namespace_quotas.id"],
            name=op.f("fk_quota_limits_quota_id_namespace_quotas"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quota_limits")),
    )
    with op.batch_alter_table("quota_limits", schema=None) as batch_op:
        batch_op.create_index("ix_quota_limits_namespace", ["namespace_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_quota_limits_quota_id"), ["quota_id"], unique=False)
    op.create_table(
        "quota_notices",
        sa.Column("namespace_id", _ID, nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("sent_at", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
            name=op.f("fk_quota_notices_namespace_id_namespaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("namespace_id", "event", name=op.f("pk_quota_notices")),
    )


def downgrade() -> None:
    op.drop_table("quota_notices")
    with op.batch_alter_table("quota_limits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quota_limits_quota_id"))
        batch_op.drop_index("ix_quota_limits_namespace")
    op.drop_table("quota_limits")
    op.drop_table("namespace_quotas")
