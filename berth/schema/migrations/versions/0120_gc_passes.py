"""gc passes: what each garbage-collection pass freed, for the superuser panel

Revision ID: 0120_gc_passes
Revises: 0110_scanner
Create Date: 2026-12-07 07:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0120_gc_passes"
down_revision = "0110_scanner"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "gc_passes",
        sa.Column("id", _ID, nullable=False),
        sa.Column("finished_at", _ID, nullable=False),
        sa.Column("duration_ms", _ID, nullable=False),
        sa.Column("tags", _ID, nullable=False),
        sa.Column("manifests", _ID, nullable=False),
        sa.Column("blobs", _ID, nullable=False),
        sa.Column("bytes_freed", _ID, nullable=False),
        sa.Column("uploads", _ID, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gc_passes")),
    )
    op.create_index(op.f("ix_gc_passes_finished_at"), "gc_passes", ["finished_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_gc_passes_finished_at"), table_name="gc_passes")
    op.drop_table("gc_passes")
