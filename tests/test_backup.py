"""Backups round-trip on SQLite and PostgreSQL; migrations upgrade databases with data."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select, text

from toolkit import db as database
from toolkit.backup import BackupError, make_backup, read_backup, restore_backup
from toolkit.cli import main
from toolkit.config import REPO_ROOT
from toolkit.models import Meeting, SentInvite

from .test_invites import set_id  # noqa: F401  (a set with sessions, used below)


def _strip(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "created"}


@pytest.fixture
def filled(env, runner, tmp_path):
    """The example set plus attendance, an action and a send log, through the real commands."""
    result = runner.invoke(
        main, ["sets", "import", str(REPO_ROOT / "examples" / "learning-set.yaml")]
    )
    assert result.exit_code == 0, result.output
    engine = database.make_engine(env.database_url)
    with database.transaction(database.session_factory(engine)) as db:
        meeting = db.scalars(select(Meeting).order_by(Meeting.starts_at)).first()
        member = meeting.learning_set.members[0]
        from toolkit import sets

        sets.record_attendance(db, meeting, {member.id: "present"})
        sets.add_action(db, meeting, member.id, "Read about just culture", "Next time")
        db.add(
            SentInvite(
                meeting_id=meeting.id, member_id=member.id, email=member.email,
                method="REQUEST", sequence=0, transport="outbox", result="ok", delivered=True,
            )
        )  # fmt: skip
    return engine


def test_backup_restore_round_trip(filled, new_database, runner, tmp_path, monkeypatch):
    path = tmp_path / "backup.json"
    assert runner.invoke(main, ["backup", "-o", str(path)]).exit_code == 0
    data = json.loads(path.read_text())
    assert {"users", "learning_sets", "members", "meetings", "attendance", "actions"} <= set(
        data["tables"]
    )
    assert len(data["tables"]["members"]) == 6 and len(data["tables"]["sent_invites"]) == 1
    target = new_database()
    monkeypatch.setenv("TOOLKIT_DATABASE_URL", target)
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    restored = runner.invoke(main, ["restore", str(path)])
    assert restored.exit_code == 0, restored.output
    again = make_backup(database.make_engine(target))
    assert _strip(again) == _strip(data)
    # the restored database keeps working: new rows get fresh ids
    engine = database.make_engine(target)
    with engine.begin() as connection:
        connection.execute(
            insert(SentInvite.__table__),
            {"meeting_id": data["tables"]["meetings"][0]["id"], "email": "x@example.org",
             "method": "REQUEST", "sequence": 1, "transport": "smtp", "result": "",
             "delivered": False, "sent_at": datetime.now(UTC)},
        )  # fmt: skip
    second = runner.invoke(main, ["restore", str(path)])
    assert second.exit_code == 1 and "restore needs an empty database" in second.output


def test_restore_refuses_other_files(filled, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    with pytest.raises(BackupError, match="not a learning-set toolkit backup"):
        read_backup(bad, filled)
    old = tmp_path / "old.json"
    old.write_text(json.dumps(make_backup(filled) | {"revision": "0001"}))
    with pytest.raises(BackupError, match="schema revision 0001"):
        read_backup(old, filled)


def test_restore_is_all_or_nothing(filled, new_database):
    data = make_backup(filled)
    data["tables"]["members"].append(dict(data["tables"]["members"][0]))  # duplicate key
    target = database.make_engine(new_database())
    database.upgrade(target)
    with pytest.raises(Exception):  # noqa: B017  (the database's own integrity error)
        restore_backup(target, data)
    with target.connect() as connection:
        assert connection.scalar(text("SELECT COUNT(*) FROM users")) == 0


def test_migrations_upgrade_a_database_with_data(new_database):
    engine = database.make_engine(new_database())
    database.upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, email, name, password_hash, is_admin, created_at) "
                "VALUES (1, 'a@example.org', 'A', '', false, '2026-01-01 00:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO learning_sets (id, slug, title, programme, venue, video_url, "
                "time_zone, ground_rules, feed_token, version, created_at) VALUES (1, 's', 'S', "
                "'', '', '', 'Europe/London', '', 'token', 1, '2026-01-01 00:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO meetings (id, uid, set_id, key, title, template_id, starts_at, "
                "minutes, venue, video_url, status, sequence, version) VALUES (1, 'u1', 1, "
                "'session-1', 'One', '', '2027-01-01 14:00:00', 120, '', '', 'scheduled', 0, 1)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO members (id, set_id, name, email, grade, active) "
                "VALUES (1, 1, 'Zoë', 'z@example.org', 'FY1', true)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO sent_invites (id, meeting_id, member_id, email, method, sequence, "
                "sent_at, transport, result) VALUES (1, 1, 1, 'z@example.org', 'REQUEST', 0, "
                "'2026-01-01 00:00:00', 'smtp', 'ok')"
            )
        )
    database.upgrade(engine)
    database.check_schema(engine)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT delivered FROM sent_invites")) in (False, 0)
        assert connection.scalar(text("SELECT anonymous_present FROM meetings")) == 0
        assert connection.scalar(text("SELECT session_epoch FROM users")) == 0
        assert connection.scalar(text("SELECT name FROM members")) == "Zoë"
        assert connection.scalar(select(func.count()).select_from(text("self_ratings"))) == 0
