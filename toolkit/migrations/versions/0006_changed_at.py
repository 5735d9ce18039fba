"""when a set or a session last changed (the feed's LAST-MODIFIED)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 00:45:00
"""

import sqlalchemy as sa
from alembic import op

import toolkit.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("learning_sets", "meetings"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("changed_at", toolkit.models.UTCDateTime(), nullable=True)
            )


def downgrade() -> None:
    for table in ("meetings", "learning_sets"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("changed_at")
