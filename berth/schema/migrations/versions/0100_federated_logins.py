"""identity providers, messages, assigned tokens

Users bound to an identity provider's account (LDAP, OpenID Connect), teams whose members
follow a directory group (FEATURE_TEAM_SYNCING), robots' identity federation entries,
global messages, and OAuth tokens assigned to users (FEATURE_ASSIGN_OAUTH_TOKEN).

Revision ID: 0100_federated_logins
Revises: 0002_drop_events
Create Date: 2026-12-07 04:27:42.779890
"""

import sqlalchemy as sa
from alembic import op

revision = "0100_federated_logins"
down_revision = "0102_rate_limit_overrides"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("media_type", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("uuid", name=op.f("uq_messages_uuid")),
    )
    op.create_table(
        "federated_logins",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("service_ident", sa.String(length=255), nullable=False),
        sa.Column("metadata_json", sa.JSON(), nullable=False),
        sa.Column(
            "created_at", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_federated_logins_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federated_logins")),
        sa.UniqueConstraint(
            "service", "service_ident", name=op.f("uq_federated_logins_service_service_ident")
        ),
        sa.UniqueConstraint("user_id", "service", name=op.f("uq_federated_logins_user_id_service")),
    )
    op.create_table(
        "oauth_assigned_tokens",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column(
            "application_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("response_type", sa.String(length=32), nullable=False),
        sa.Column(
            "created_at", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["oauth_applications.id"],
            name=op.f("fk_oauth_assigned_tokens_application_id_oauth_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_oauth_assigned_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_assigned_tokens")),
        sa.UniqueConstraint("uuid", name=op.f("uq_oauth_assigned_tokens_uuid")),
    )
    with op.batch_alter_table("oauth_assigned_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_assigned_tokens_application_id"), ["application_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_oauth_assigned_tokens_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "robot_federations",
        sa.Column("robot_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column(
            "created_at", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["robot_id"],
            ["users.id"],
            name=op.f("fk_robot_federations_robot_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("robot_id", name=op.f("pk_robot_federations")),
    )
    op.create_table(
        "team_syncs",
        sa.Column("team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column(
            "last_updated", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "created_at", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_team_syncs_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_team_syncs")),
    )


def downgrade() -> None:
    op.drop_table("team_syncs")
    op.drop_table("robot_federations")
    with op.batch_alter_table("oauth_assigned_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_assigned_tokens_user_id"))
        batch_op.drop_index(batch_op.f("ix_oauth_assigned_tokens_application_id"))

    op.drop_table("oauth_assigned_tokens")
    op.drop_table("federated_logins")
    op.drop_table("messages")
