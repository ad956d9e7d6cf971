"""scanner: the index of each manifest (status, inventory)

Revision ID: 0110_scanner
Revises: 0100_notifications
"""

import sqlalchemy as sa
from alembic import op

revision = "0110_scanner"
down_revision = "0100_proxy_cache"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "manifest_security",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("digest", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("inventory", sa.JSON(), nullable=True),
        sa.Column("scanner_version", sa.String(length=64), nullable=False),
        sa.Column(
            "indexed_at", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "matched_generation",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("findings", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_manifest_security")),
        sa.UniqueConstraint("digest", name=op.f("uq_manifest_security_digest")),
    )


def downgrade() -> None:
    op.drop_table("manifest_security")
