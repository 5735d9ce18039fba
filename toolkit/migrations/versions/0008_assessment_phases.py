"""self-assessment phases: closing dates and the totals frozen when answers close

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 02:00:00
"""

import sqlalchemy as sa
from alembic import op

import toolkit.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assessment_phases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(length=10), nullable=False),
        sa.Column("closes_at", toolkit.models.UTCDateTime(), nullable=True),
        sa.Column("closed_at", toolkit.models.UTCDateTime(), nullable=True),
        sa.Column("counted", sa.Integer(), nullable=False),
        sa.Column("totals", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["set_id"],
            ["learning_sets.id"],
            name=op.f("fk_assessment_phases_set_id_learning_sets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_phases")),
        sa.UniqueConstraint("set_id", "phase", name=op.f("uq_assessment_phases_set_id")),
    )


def downgrade() -> None:
    op.drop_table("assessment_phases")
