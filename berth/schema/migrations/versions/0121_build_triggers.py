"""build triggers: custom git, GitHub, GitLab and Bitbucket triggers of a repository

Revision ID: 0121_build_triggers
Revises: 0120_builds
"""

import sqlalchemy as sa
from alembic import op

revision = "0121_build_triggers"
down_revision = "0120_builds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "build_triggers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column(
            "repository_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column(
            "connected_user_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("activated", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=64), nullable=True),
        sa.Column(
            "pull_robot_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("public_key", sa.Text(), nullable=True),
        sa.Column("private_key", sa.Text(), nullable=True),
        sa.Column("webhook_secret", sa.Text(), nullable=True),
        sa.Column("auth_token", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["connected_user_id"],
            ["users.id"],
            name=op.f("fk_build_triggers_connected_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["pull_robot_id"],
            ["users.id"],
            name=op.f("fk_build_triggers_pull_robot_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f("fk_build_triggers_repository_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_build_triggers")),
        sa.UniqueConstraint("uuid", name=op.f("uq_build_triggers_uuid")),
    )
    op.create_index("ix_build_triggers_repository", "build_triggers", ["repository_id"])


def downgrade() -> None:
    op.drop_index("ix_build_triggers_repository", table_name="build_triggers")
    op.drop_table("build_triggers")
