"""anonymous online evaluations (who answered apart from what was answered), early closing, and
members' own reflections for their portfolio record

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 06:10:00
"""

import sqlalchemy as sa
from alembic import op

import toolkit.models

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _to(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "evaluation_answerers",
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        _to("evaluation_answerers", "meeting_id", "meetings"),
        _to("evaluation_answerers", "member_id", "members"),
        sa.PrimaryKeyConstraint("meeting_id", "member_id", name=op.f("pk_evaluation_answerers")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "evaluation_answers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("answers", sa.Text(), nullable=False),
        _to("evaluation_answers", "meeting_id", "meetings"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_answers")),
        sqlite_with_rowid=False,
    )
    op.create_index(op.f("ix_evaluation_answers_meeting_id"), "evaluation_answers", ["meeting_id"])
    op.create_table(
        "evaluation_closures",
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("closed_at", toolkit.models.UTCDateTime(), nullable=False),
        _to("evaluation_closures", "meeting_id", "meetings"),
        sa.PrimaryKeyConstraint("meeting_id", name=op.f("pk_evaluation_closures")),
    )
    op.create_table(
        "reflections",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("what", sa.Text(), nullable=False),
        sa.Column("so_what", sa.Text(), nullable=False),
        sa.Column("now_what", sa.Text(), nullable=False),
        sa.Column("updated_at", toolkit.models.UTCDateTime(), nullable=False),
        _to("reflections", "member_id", "members"),
        _to("reflections", "meeting_id", "meetings"),
        sa.PrimaryKeyConstraint("member_id", "meeting_id", name=op.f("pk_reflections")),
    )


def downgrade() -> None:
    op.drop_table("reflections")
    op.drop_table("evaluation_closures")
    op.drop_index(op.f("ix_evaluation_answers_meeting_id"), table_name="evaluation_answers")
    op.drop_table("evaluation_answers")
    op.drop_table("evaluation_answerers")
