"""members' ticks against the pre-work of a session, from their own page

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 03:55:00
"""

import sqlalchemy as sa
from alembic import op

import toolkit.models

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prework_ticks",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.String(length=120), nullable=False),
        sa.Column("ticked_at", toolkit.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_prework_ticks_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_prework_ticks_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "member_id", "meeting_id", "resource_id", name=op.f("pk_prework_ticks")
        ),
    )


def downgrade() -> None:
    op.drop_table("prework_ticks")
