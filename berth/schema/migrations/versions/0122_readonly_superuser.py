"""the stored global read-only superuser flag (LDAP_GLOBAL_READONLY_SUPERUSER_FILTER)

Revision ID: 0122_readonly_superuser
Revises: 0120_repo_mirror
Create Date: 2026-12-07 08:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0122_readonly_superuser"
down_revision = "0120_repo_mirror"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("readonly_superuser", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("readonly_superuser")
