"""delivered flag on the send log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 18:57:47.239243
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sent_invites", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("delivered", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("sent_invites", schema=None) as batch_op:
        batch_op.drop_column("delivered")
