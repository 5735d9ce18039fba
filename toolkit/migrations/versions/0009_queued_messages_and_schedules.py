"""the send log holds every e-mail (invites, reminders, follow-ups, self-assessment), each queued,
sending, delivered or failed; each set has its schedule of automatic messages

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 03:10:00
"""

import sqlalchemy as sa
from alembic import op

import toolkit.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sent_invites") as batch:
        batch.add_column(sa.Column("kind", sa.String(20), nullable=False, server_default="invite"))
        batch.add_column(
            sa.Column("state", sa.String(10), nullable=False, server_default="delivered")
        )
        batch.add_column(sa.Column("batch", sa.String(40), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("claimed_at", toolkit.models.UTCDateTime(), nullable=True))
        batch.create_index("ix_sent_invites_batch", ["batch"])
        batch.create_index("ix_sent_invites_state", ["state"])
    # what the rows already there mean in the new terms
    op.execute(
        "UPDATE sent_invites SET state = CASE WHEN delivered THEN 'delivered' "
        "WHEN result = 'sending' THEN 'sending' ELSE 'failed' END, "
        "attempts = 1, claimed_at = sent_at"
    )
    with op.batch_alter_table("learning_sets") as batch:
        batch.add_column(sa.Column("reminder_days", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("reminder_at", sa.String(5), nullable=False, server_default="09:00")
        )
        batch.add_column(sa.Column("follow_up_days", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("follow_up_at", sa.String(5), nullable=False, server_default="09:00")
        )
        batch.add_column(
            sa.Column("assessment_mail", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.execute("UPDATE learning_sets SET reminder_days = 2, follow_up_days = 1")


def downgrade() -> None:
    with op.batch_alter_table("learning_sets") as batch:
        for column in ("assessment_mail", "follow_up_at", "follow_up_days", "reminder_at"):
            batch.drop_column(column)
        batch.drop_column("reminder_days")
    op.execute("DELETE FROM sent_invites WHERE kind <> 'invite'")
    with op.batch_alter_table("sent_invites") as batch:
        batch.drop_index("ix_sent_invites_state")
        batch.drop_index("ix_sent_invites_batch")
        for column in ("claimed_at", "attempts", "batch", "state", "kind"):
            batch.drop_column(column)
