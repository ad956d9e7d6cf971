"""proxy-cache configurations of organizations, and what cached manifests still lack

Revision ID: 0100_proxy_cache
Revises: 0002_drop_events
Create Date: 2026-12-07 03:52:32
"""

import sqlalchemy as sa
from alembic import op

revision = "0100_proxy_cache"
down_revision = "0100_federated_logins"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "proxy_cache_configs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("namespace_id", _ID, nullable=False),
        sa.Column("upstream_registry", sa.String(length=2048), nullable=False),
        sa.Column("username_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("password_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("expiration_s", _ID, nullable=False),
        sa.Column("insecure", sa.Boolean(), nullable=False),
        sa.Column("created_at", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
            name=op.f("fk_proxy_cache_configs_namespace_id_namespaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proxy_cache_configs")),
        sa.UniqueConstraint("namespace_id", name=op.f("uq_proxy_cache_configs_namespace_id")),
    )
    op.create_table(
        "proxy_cache_pending",
        sa.Column("id", _ID, nullable=False),
        sa.Column("manifest_id", _ID, nullable=False),
        sa.Column("repository_id", _ID, nullable=False),
        sa.Column("digest", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["manifest_id"],
            ["manifests.id"],
            name=op.f("fk_proxy_cache_pending_manifest_id_manifests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f("fk_proxy_cache_pending_repository_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proxy_cache_pending")),
    )
    with op.batch_alter_table("proxy_cache_pending", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_proxy_cache_pending_manifest_id"), ["manifest_id"], unique=False
        )
        batch_op.create_index(
            "ix_proxy_cache_pending_repo_digest", ["repository_id", "digest"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("proxy_cache_pending", schema=None) as batch_op:
        batch_op.drop_index("ix_proxy_cache_pending_repo_digest")
        batch_op.drop_index(batch_op.f("ix_proxy_cache_pending_manifest_id"))
    op.drop_table("proxy_cache_pending")
    op.drop_table("proxy_cache_configs")
