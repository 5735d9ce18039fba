"""cancel reasons, hand-set presenters, deleted sessions owing cancellations, send claims

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 23:55:00
"""

import sqlalchemy as sa
from alembic import op

import toolkit.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cancel_reason", sa.Text(), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("presenters_by_hand", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("deleted_at", toolkit.models.UTCDateTime(), nullable=True))

    with op.batch_alter_table("sent_invites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim", sa.String(length=120), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_sent_invites_claim"), ["claim"])


def downgrade() -> None:
    with op.batch_alter_table("sent_invites", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_sent_invites_claim"), type_="unique")
        batch_op.drop_column("claim")

    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("presenters_by_hand")
        batch_op.drop_column("cancel_reason")
