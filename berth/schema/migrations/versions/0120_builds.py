"""builds: repository builds, their log entries, uploaded contexts

Revision ID: 0120_builds
Revises: 0120_gc_passes
Create Date: 2026-12-07 06:57:26.467148
"""

import sqlalchemy as sa
from alembic import op

revision = "0120_builds"
down_revision = "0120_gc_passes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "build_files",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("file_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("mime_type", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column(
            "created_at", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_build_files_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_build_files")),
        sa.UniqueConstraint("file_id", name=op.f("uq_build_files_file_id")),
    )
    with op.batch_alter_table("build_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_build_files_created_at"), ["created_at"], unique=False)

    op.create_table(
        "repository_builds",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column(
            "repository_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "namespace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("phase", sa.String(length=32), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column(
            "started_at", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("ended_at", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("job_config", sa.JSON(), nullable=False),
        sa.Column("resource_key", sa.String(length=64), nullable=True),
        sa.Column("archive_url", sa.String(length=2048), nullable=True),
        sa.Column("git_url", sa.String(length=2048), nullable=True),
        sa.Column("git_ref", sa.String(length=1024), nullable=True),
        sa.Column("commit_sha", sa.String(length=64), nullable=True),
        sa.Column("git_key_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("pull_robot", sa.String(length=255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("manual_user", sa.String(length=255), nullable=True),
        sa.Column(
            "performer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("trigger_uuid", sa.String(length=36), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column(
            "retries_remaining",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "log_count", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("logs_archived", sa.Boolean(), nullable=False),
        sa.Column("image_id", sa.String(length=128), nullable=True),
        sa.Column("manifest_digest", sa.String(length=128), nullable=True),
        sa.Column("executor", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
            name=op.f("fk_repository_builds_namespace_id_namespaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["performer_id"],
            ["users.id"],
            name=op.f("fk_repository_builds_performer_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f("fk_repository_builds_repository_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repository_builds")),
        sa.UniqueConstraint("uuid", name=op.f("uq_repository_builds_uuid")),
    )
    with op.batch_alter_table("repository_builds", schema=None) as batch_op:
        batch_op.create_index("ix_repository_builds_phase", ["phase", "namespace_id"], unique=False)
        batch_op.create_index(
            "ix_repository_builds_repo_started", ["repository_id", "started_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_repository_builds_trigger_uuid"), ["trigger_uuid"], unique=False
        )

    op.create_table(
        "build_log_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("build_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column(
            "created_at", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["build_id"],
            ["repository_builds.id"],
            name=op.f("fk_build_log_entries_build_id_repository_builds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_build_log_entries")),
        sa.UniqueConstraint("build_id", "seq", name=op.f("uq_build_log_entries_build_id_seq")),
    )


def downgrade() -> None:
    op.drop_table("build_log_entries")
    with op.batch_alter_table("repository_builds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_repository_builds_trigger_uuid"))
        batch_op.drop_index("ix_repository_builds_repo_started")
        batch_op.drop_index("ix_repository_builds_phase")

    op.drop_table("repository_builds")
    with op.batch_alter_table("build_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_build_files_created_at"))

    op.drop_table("build_files")
