"""resources and self-assessment

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 19:04:51.958037
"""

import sqlalchemy as sa
from alembic import op

import toolkit.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "custom_resources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("hlm", sa.Text(), nullable=False),
        sa.Column("mlcf", sa.Text(), nullable=False),
        sa.Column("gpc", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_custom_resources_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_resources")),
        sa.UniqueConstraint("slug", name=op.f("uq_custom_resources_slug")),
    )
    op.create_table(
        "meeting_resources",
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_meeting_resources_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "meeting_id", "resource_id", "role", name=op.f("pk_meeting_resources")
        ),
    )
    op.create_table(
        "self_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(length=10), nullable=False),
        sa.Column("dimension", sa.String(length=60), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("recorded_at", toolkit.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_self_ratings_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_self_ratings")),
        sa.UniqueConstraint(
            "member_id", "phase", "dimension", name=op.f("uq_self_ratings_member_id")
        ),
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assessment_token", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_members_assessment_token"), ["assessment_token"]
        )


def downgrade() -> None:

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_members_assessment_token"), type_="unique")
        batch_op.drop_column("assessment_token")

    op.drop_table("self_ratings")
    op.drop_table("meeting_resources")
    op.drop_table("custom_resources")
