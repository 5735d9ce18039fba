"""members' replies to sessions (coming, apologies, maybe), from their page or their calendar

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 03:45:00
"""

import sqlalchemy as sa
from alembic import op

import toolkit.models

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rsvps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.Column("replied_at", toolkit.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_rsvps_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_rsvps_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rsvps")),
        sa.UniqueConstraint("meeting_id", "member_id", name=op.f("uq_rsvps_meeting_id")),
    )


def downgrade() -> None:
    op.drop_table("rsvps")
