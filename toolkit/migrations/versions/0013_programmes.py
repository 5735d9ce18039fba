"""programmes with their leads; a set's free-text programme becomes a programme record

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 06:00:00
"""

import re
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

SLUG = 80


def _slug(title: str) -> str:
    """A short id from a title, as the toolkit makes a set's ("KSS Foundation 2026-27" becomes
    "kss-foundation-2026-27"); frozen here so later changes to the toolkit's own cannot change
    what this migration did."""
    bare = "".join(c for c in unicodedata.normalize("NFKD", title) if not unicodedata.combining(c))
    slug = re.sub(r"[^a-z0-9]+", "-", bare.lower()).strip("-")
    return slug[:SLUG].rstrip("-") or "programme"


def _free(slug: str, taken: set[str]) -> str:
    candidate, n = slug, 1
    while candidate in taken:
        n += 1
        candidate = f"{slug[: SLUG - len(str(n)) - 1].rstrip('-')}-{n}"
    taken.add(candidate)
    return candidate


def upgrade() -> None:
    op.create_table(
        "programmes",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("year", sa.String(length=20), nullable=False, server_default=""),
        sa.Column("follow_up_below", sa.Integer(), nullable=False, server_default="75"),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programmes")),
    )
    op.create_table(
        "programme_leads",
        sa.Column("programme_id", sa.String(length=80), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programmes.id"],
            name=op.f("fk_programme_leads_programme_id_programmes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_programme_leads_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("programme_id", "user_id", name=op.f("pk_programme_leads")),
    )
    with op.batch_alter_table("learning_sets") as batch:
        batch.add_column(sa.Column("programme_id", sa.String(length=80), nullable=True))
    _programmes_from_free_text()
    with op.batch_alter_table("learning_sets") as batch:
        batch.create_foreign_key(
            op.f("fk_learning_sets_programme_id_programmes"),
            "programmes",
            ["programme_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index("ix_learning_sets_programme_id", ["programme_id"])
        batch.drop_column("programme")


def _programmes_from_free_text() -> None:
    """Each distinct free-text programme becomes one programme, its text the title."""
    connection = op.get_bind()
    titles = connection.execute(
        sa.text("SELECT DISTINCT programme FROM learning_sets WHERE programme <> ''")
    ).scalars()
    taken: set[str] = set()
    for title in sorted(titles):
        slug = _free(_slug(title), taken)
        connection.execute(
            sa.text(
                "INSERT INTO programmes (id, title, year, follow_up_below, version) "
                "VALUES (:id, :title, '', 75, 1)"
            ),
            {"id": slug, "title": title},
        )
        connection.execute(
            sa.text("UPDATE learning_sets SET programme_id = :id WHERE programme = :title"),
            {"id": slug, "title": title},
        )


def downgrade() -> None:
    with op.batch_alter_table("learning_sets") as batch:
        batch.add_column(
            sa.Column("programme", sa.String(length=200), nullable=False, server_default="")
        )
    op.execute(
        "UPDATE learning_sets SET programme = (SELECT title FROM programmes "
        "WHERE programmes.id = learning_sets.programme_id) WHERE programme_id IS NOT NULL"
    )
    with op.batch_alter_table("learning_sets") as batch:
        batch.drop_index("ix_learning_sets_programme_id")
        batch.drop_constraint("fk_learning_sets_programme_id_programmes", type_="foreignkey")
        batch.drop_column("programme_id")
    op.drop_table("programme_leads")
    op.drop_table("programmes")
