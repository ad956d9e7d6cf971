"""job lanes and the dead state

Jobs get a lane (each lane has its own claim loop and concurrency; rows already queued are
long work), the claim index covers it, and jobs that used up their attempts, ``failed``
until now, are ``dead``.

Revision ID: 32fba2030238
Revises: 0001
Create Date: 2026-12-07 01:10:07.130613
"""

import sqlalchemy as sa
from alembic import op

revision = "32fba2030238"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lane", sa.String(length=16), server_default="long", nullable=False)
        )
        batch_op.drop_index("ix_jobs_claim")
        batch_op.create_index("ix_jobs_claim", ["state", "lane", "run_at"], unique=False)
    op.execute("UPDATE jobs SET state = 'dead' WHERE state = 'failed'")


def downgrade() -> None:
    op.execute("UPDATE jobs SET state = 'failed' WHERE state = 'dead'")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_claim")
        batch_op.create_index("ix_jobs_claim", ["state", "run_at"], unique=False)
        batch_op.drop_column("lane")
