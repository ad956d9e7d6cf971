"""notifications: repository and namespace notifications, authorized e-mail addresses,
users' in-app notifications, and the expiry notices already sent

Revision ID: 0100_notifications
Revises: 0002_drop_events
Create Date: 2026-12-07 03:47:40.912157
"""

import sqlalchemy as sa
from alembic import op

revision = "0100_notifications"
down_revision = "0002_drop_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "authorized_emails",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "repository_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f("fk_authorized_emails_repository_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorized_emails")),
        sa.UniqueConstraint("code", name=op.f("uq_authorized_emails_code")),
        sa.UniqueConstraint(
            "repository_id", "email", name=op.f("uq_authorized_emails_repository_id_email")
        ),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column(
            "namespace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "repository_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=True),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("event_config", sa.JSON(), nullable=False),
        sa.Column(
            "number_of_failures",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "created_at", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
            name=op.f("fk_notifications_namespace_id_namespaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f("fk_notifications_repository_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("uuid", name=op.f("uq_notifications_uuid")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notifications_namespace", ["namespace_id", "repository_id"], unique=False
        )
        batch_op.create_index(
            "ix_notifications_repo_event", ["repository_id", "event"], unique=False
        )

    op.create_table(
        "user_notifications",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("organization", sa.String(length=255), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("dismissed", sa.Boolean(), nullable=False),
        sa.Column("delivery_id", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_notifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_notifications")),
        sa.UniqueConstraint(
            "delivery_id", "user_id", name=op.f("uq_user_notifications_delivery_id_user_id")
        ),
        sa.UniqueConstraint("uuid", name=op.f("uq_user_notifications_uuid")),
    )
    with op.batch_alter_table("user_notifications", schema=None) as batch_op:
        batch_op.create_index("ix_user_notifications_user", ["user_id", "created_at"], unique=False)

    op.create_table(
        "notification_expiry_notices",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "notification_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("tag_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "expires_at", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_notification_expiry_notices_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_expiry_notices")),
        sa.UniqueConstraint(
            "notification_id",
            "tag_id",
            "expires_at",
            name=op.f("uq_notification_expiry_notices_notification_id_tag_id_expires_at"),
        ),
    )


def downgrade() -> None:
    op.drop_table("notification_expiry_notices")
    with op.batch_alter_table("user_notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_user_notifications_user")

    op.drop_table("user_notifications")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_repo_event")
        batch_op.drop_index("ix_notifications_namespace")

    op.drop_table("notifications")
    op.drop_table("authorized_emails")
