"""Migrations keep every row: rebuilding a table on SQLite must not cascade-delete rows."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from toolkit import db as database

ROWS = [
    "INSERT INTO users (id, email, name, password_hash, is_admin, created_at) "
    "VALUES (1, 'a@example.org', 'A', '', false, '2026-01-01 00:00:00')",
    "INSERT INTO learning_sets (id, slug, title, programme, venue, video_url, time_zone, "
    "ground_rules, feed_token, version, created_at) VALUES (1, 's', 'S', '', '', '', "
    "'Europe/London', '', 'token', 1, '2026-01-01 00:00:00')",
    "INSERT INTO meetings (id, uid, set_id, key, title, template_id, starts_at, minutes, venue, "
    "video_url, status, sequence, version) VALUES (1, 'u1', 1, 'session-1', 'One', '', "
    "'2027-01-01 14:00:00', 120, '', '', 'scheduled', 0, 1)",
    "INSERT INTO members (id, set_id, name, email, grade, active) "
    "VALUES (1, 1, 'Z', 'z@example.org', 'FY1', true)",
    "INSERT INTO attendance (meeting_id, member_id, status) VALUES (1, 1, 'present')",
    "INSERT INTO agenda_blocks (id, meeting_id, position, title, kind, minutes, notes, handout) "
    "VALUES (1, 1, 0, 'Check-in', 'check-in', 15, '', true)",
    "INSERT INTO actions (id, set_id, member_id, meeting_id, text, due, support, status, "
    "outcome) VALUES (1, 1, 1, 1, 'Do it', '', '', 'open', '')",
    "INSERT INTO sent_invites (id, meeting_id, member_id, email, method, sequence, sent_at, "
    "transport, result, delivered) VALUES (1, 1, 1, 'z@example.org', 'REQUEST', 0, "
    "'2026-01-01 00:00:00', 'smtp', 'ok', true)",
]
TABLES = ("meetings", "attendance", "agenda_blocks", "actions", "sent_invites")


def _counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {t: connection.scalar(text(f"SELECT count(*) FROM {t}")) for t in TABLES}


def test_upgrading_from_0004_keeps_every_row_that_points_at_a_session(new_database):
    engine = database.make_engine(new_database())
    database.upgrade(engine, "0004")
    with engine.begin() as connection:
        for row in ROWS:
            connection.execute(text(row))
    database.upgrade(engine)
    database.check_schema(engine)
    assert _counts(engine) == dict.fromkeys(TABLES, 1)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT delivered FROM sent_invites")) in (True, 1)
        assert connection.scalar(text("SELECT cancel_reason FROM meetings")) == ""


def test_0007_keeps_accounts_and_replaces_the_failure_log(new_database):
    engine = database.make_engine(new_database())
    database.upgrade(engine, "0006")
    with engine.begin() as connection:
        for row in ROWS:
            connection.execute(text(row))
        connection.execute(text("INSERT INTO set_facilitators (set_id, user_id) VALUES (1, 1)"))
        connection.execute(
            text("INSERT INTO login_failures (key, at) VALUES ('addr:1', '2026-01-01 00:00:00')")
        )
    database.upgrade(engine, "0007")
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT email FROM users")) == "a@example.org"
        assert connection.scalar(text("SELECT count(*) FROM set_facilitators")) == 1
        for table in ("login_throttles", "sign_ins", "password_resets"):
            assert connection.scalar(text(f"SELECT count(*) FROM {table}")) == 0
    assert _counts(engine) == dict.fromkeys(TABLES, 1)


def test_upgrading_from_0007_keeps_every_row_and_adds_empty_assessment_phases(new_database):
    engine = database.make_engine(new_database())
    database.upgrade(engine, "0007")
    with engine.begin() as connection:
        for row in ROWS:
            connection.execute(text(row))
        connection.execute(
            text(
                "INSERT INTO self_ratings (id, member_id, phase, dimension, level, recorded_at) "
                "VALUES (1, 1, 'start', 'inspiring-shared-purpose', 3, '2026-01-01 00:00:00')"
            )
        )
    database.upgrade(engine)
    database.check_schema(engine)
    assert _counts(engine) == dict.fromkeys(TABLES, 1)
    with engine.begin() as connection:
        assert connection.scalar(text("SELECT count(*) FROM self_ratings")) == 1
        assert connection.scalar(text("SELECT count(*) FROM assessment_phases")) == 0
        connection.execute(
            text(
                "INSERT INTO assessment_phases (set_id, phase, counted, totals) "
                "VALUES (1, 'start', 0, '')"
            )
        )


def test_the_head_revision_read_from_file_names_is_alembics_own():
    """Commands check the schema without importing Alembic: the head is the highest numbered
    migration file, which holds only if each file's revision is its number and the chain is one
    line (no branches)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(database.MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    assert script.get_heads() == [database.head_revision()]
    for revision in script.walk_revisions():
        assert revision.path.rsplit("/", 1)[-1].startswith(revision.revision + "_")


def test_upgrading_from_0009_keeps_every_row_and_adds_empty_replies(new_database):
    engine = database.make_engine(new_database())
    database.upgrade(engine, "0009")
    with engine.begin() as connection:
        for row in ROWS:
            connection.execute(text(row))
    database.upgrade(engine)
    database.check_schema(engine)
    assert _counts(engine) == dict.fromkeys(TABLES, 1)
    with engine.begin() as connection:
        assert connection.scalar(text("SELECT count(*) FROM rsvps")) == 0
        connection.execute(
            text(
                "INSERT INTO rsvps (meeting_id, member_id, status, source, sequence, replied_at) "
                "VALUES (1, 1, 'apologies', 'calendar', 0, '2026-12-01 09:00:00')"
            )
        )
        assert connection.scalar(text("SELECT note FROM rsvps")) == ""
    with engine.begin() as connection:  # one reply per member and session: the latest wins
        duplicate = (
            "INSERT INTO rsvps (meeting_id, member_id, status, note, source, replied_at) "
            "VALUES (1, 1, 'attending', '', 'link', '2026-12-02 09:00:00')"
        )
        with pytest.raises(IntegrityError):
            connection.execute(text(duplicate))
    with engine.begin() as connection:  # a member's replies go with them
        connection.execute(text("DELETE FROM members"))
        assert connection.scalar(text("SELECT count(*) FROM rsvps")) == 0


def test_upgrading_from_0011_keeps_every_row_and_adds_evaluations_and_reflections(new_database):
    engine = database.make_engine(new_database())
    database.upgrade(engine, "0011")
    with engine.begin() as connection:
        for row in ROWS:
            connection.execute(text(row))
    database.upgrade(engine)
    database.check_schema(engine)
    assert _counts(engine) == dict.fromkeys(TABLES, 1)
    with engine.begin() as connection:
        for table in ("evaluation_answerers", "evaluation_answers", "reflections"):
            assert connection.scalar(text(f"SELECT count(*) FROM {table}")) == 0
        connection.execute(text("INSERT INTO evaluation_answerers VALUES (1, 1)"))
        connection.execute(
            text("INSERT INTO evaluation_answers (id, meeting_id, answers) VALUES ('r', 1, '{}')")
        )
        connection.execute(
            text(
                "INSERT INTO reflections (member_id, meeting_id, what, so_what, now_what, "
                "updated_at) VALUES (1, 1, 'w', 's', 'n', '2027-01-02 09:00:00')"
            )
        )
    with engine.begin() as connection:  # one answer per member and session
        with pytest.raises(IntegrityError):
            connection.execute(text("INSERT INTO evaluation_answerers VALUES (1, 1)"))
    with engine.begin() as connection:  # who answered goes with the member; what stays anonymous
        connection.execute(text("DELETE FROM members"))
        assert connection.scalar(text("SELECT count(*) FROM evaluation_answerers")) == 0
        assert connection.scalar(text("SELECT count(*) FROM reflections")) == 0
        assert connection.scalar(text("SELECT count(*) FROM evaluation_answers")) == 1


def test_0013_makes_one_programme_of_each_free_text_programme(new_database):
    engine = database.make_engine(new_database())
    database.upgrade(engine, "0012")
    with engine.begin() as connection:
        for row in ROWS:
            connection.execute(text(row))
        for n, programme in (
            (2, "KSS Foundation 2026-27"),
            (3, "KSS Foundation 2026-27"),
            (4, "Wessex core"),
        ):
            connection.execute(
                text(
                    "INSERT INTO learning_sets (id, slug, title, programme, venue, video_url, "
                    "time_zone, ground_rules, feed_token, version, created_at) VALUES (:n, :slug, "
                    "'S', :programme, '', '', 'Europe/London', '', :token, 1, "
                    "'2026-01-01 00:00:00')"
                ),
                {"n": n, "slug": f"s{n}", "programme": programme, "token": f"t{n}"},
            )
    database.upgrade(engine, "0013")
    with engine.connect() as connection:
        programmes = connection.execute(text("SELECT id, title FROM programmes ORDER BY id"))
        assert programmes.all() == [
            ("kss-foundation-2026-27", "KSS Foundation 2026-27"),
            ("wessex-core", "Wessex core"),
        ]
        sets = connection.execute(text("SELECT id, programme_id FROM learning_sets ORDER BY id"))
        assert sets.all() == [
            (1, None),
            (2, "kss-foundation-2026-27"),
            (3, "kss-foundation-2026-27"),
            (4, "wessex-core"),
        ]
    assert _counts(engine) == dict.fromkeys(TABLES, 1)
