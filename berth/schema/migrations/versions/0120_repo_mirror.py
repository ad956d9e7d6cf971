"""repository mirror configurations

Revision ID: 0120_repo_mirror
Revises: 0121_build_triggers
Create Date: 2026-12-07 07:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0120_repo_mirror"
down_revision = "0121_build_triggers"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "repo_mirror_configs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("repository_id", _ID, nullable=False),
        sa.Column("robot_id", _ID, nullable=True),
        sa.Column("is_enabled", sa.Boolean(), nullable=False),
        sa.Column("external_reference", sa.String(length=2048), nullable=False),
        sa.Column("username_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("password_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("verify_tls", sa.Boolean(), nullable=False),
        sa.Column("unsigned_images", sa.Boolean(), nullable=False),
        sa.Column("proxy", sa.JSON(), nullable=False),
        sa.Column("root_rule", sa.JSON(), nullable=False),
        sa.Column("architecture_filter", sa.JSON(), nullable=False),
        sa.Column("sync_interval", _ID, nullable=False),
        sa.Column("sync_start_ms", _ID, nullable=False),
        sa.Column("sync_expiration_ms", _ID, nullable=True),
        sa.Column("sync_retries_remaining", _ID, nullable=False),
        sa.Column("sync_status", sa.String(length=16), nullable=False),
        sa.Column("skopeo_timeout_interval", _ID, nullable=False),
        sa.Column("last_result", sa.JSON(), nullable=True),
        sa.Column("last_message", sa.Text(), nullable=True),
        sa.Column("created_at", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f("fk_repo_mirror_configs_repository_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["robot_id"],
            ["users.id"],
            name=op.f("fk_repo_mirror_configs_robot_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repo_mirror_configs")),
        sa.UniqueConstraint("repository_id", name=op.f("uq_repo_mirror_configs_repository_id")),
    )
    with op.batch_alter_table("repo_mirror_configs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_repo_mirror_configs_robot_id"), ["robot_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_repo_mirror_configs_sync_start_ms"), ["sync_start_ms"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("repo_mirror_configs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_repo_mirror_configs_sync_start_ms"))
        batch_op.drop_index(batch_op.f("ix_repo_mirror_configs_robot_id"))
    op.drop_table("repo_mirror_configs")
