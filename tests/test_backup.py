"""Backups round-trip on SQLite and PostgreSQL; migrations upgrade databases with data."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select, text

from toolkit import db as database
from toolkit.accounts import create_user
from toolkit.backup import SKIPPED, BackupError, make_backup, read_backup, restore_backup
from toolkit.cli import main
from toolkit.config import REPO_ROOT
from toolkit.models import Base, Meeting, SentInvite

from .conftest import PASSWORD
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


def test_restore_is_all_or_nothing(good, empty_target):
    good["tables"]["users"].append(dict(good["tables"]["users"][-1]))  # unchecked: a duplicate
    with pytest.raises(BackupError, match="the database refused a row of 'users'") as refused:
        restore_backup(empty_target, good)  # the database's own refusal, the rows not quoted
    assert _secret(good) not in str(refused.value) and "lead@example.org" not in str(refused.value)
    assert _rows(empty_target) == 0


@pytest.fixture
def good(filled) -> dict:
    """A valid backup of the filled database, with an account that has a real password hash."""
    with database.transaction(database.session_factory(filled)) as db:
        create_user(db, "lead@example.org", PASSWORD, "Programme Lead")
    return make_backup(filled)


@pytest.fixture
def empty_target(new_database, runner, monkeypatch):
    """An empty, migrated database that the `toolkit` command now points at."""
    url = new_database()
    monkeypatch.setenv("TOOLKIT_DATABASE_URL", url)
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    return database.make_engine(url)


def _secret(data: dict) -> str:
    return next(u["password_hash"] for u in data["tables"]["users"] if u["password_hash"])


def _rows(engine) -> int:
    with engine.connect() as connection:
        tables = Base.metadata.sorted_tables
        return sum(connection.scalar(select(func.count()).select_from(t)) for t in tables)


def _change(table: str, field: str, value, row: int = 0):
    return lambda tables: tables[table][row].__setitem__(field, value)


BAD = {
    "unknown time zone": (
        _change("learning_sets", "time_zone", "Mars/Olympus"),
        "learning_sets[0].time_zone: unknown time zone 'Mars/Olympus'",
    ),
    "missing row": (
        _change("attendance", "member_id", 999999),
        "attendance[0].member_id: no members row with id 999999",
    ),
    "wrong type": (
        _change("meetings", "minutes", "ninety"),
        "meetings[0].minutes: expected a whole number, found text",
    ),
    "missing key": (lambda t: t["members"][0].pop("email"), "members[0].email: missing"),
    "NUL byte": (
        _change("members", "name", "Zo\x00ë"),
        "members[0].name: contains a NUL character",
    ),
    "too long": (
        _change("learning_sets", "title", "x" * 201),
        "learning_sets[0].title: 201 characters, longer than the 200 the column holds",
    ),
    "duplicate account": (
        lambda t: t["users"].append(dict(t["users"][-1])),
        "].id: the same as users[",
    ),
    "null": (_change("users", "email", None, -1), ".email: missing a value (null)"),
    "hash of wrong type": (
        _change("users", "password_hash", ["x"], -1),
        ".password_hash: expected text, found a list",
    ),
    "not a time": (
        _change("meetings", "starts_at", "next Tuesday"),
        "meetings[0].starts_at: not a date and time in ISO 8601 form",
    ),
    "naive time": (
        _change("meetings", "starts_at", "2027-01-01T14:00:00"),
        "meetings[0].starts_at: a date and time without a UTC offset",
    ),
    "huge number": (
        _change("meetings", "sequence", 2**40),
        "meetings[0].sequence: a number outside -2147483648..2147483647",
    ),
    "unpaired surrogate": (
        _change("members", "grade", "\ud800"),
        "members[0].grade: not valid Unicode",
    ),
    "unknown status": (
        _change("attendance", "status", "maybe"),
        "attendance[0].status: 'maybe' is not one of present, apologies, absent",
    ),
    "unknown field": (_change("members", "shoe_size", 44), "members[0]: unknown field 'shoe_size'"),
    "row not an object": (
        lambda t: t["members"].__setitem__(0, "Zoë"),
        "members[0]: expected an object of fields, found text",
    ),
    "table missing": (lambda t: t.pop("members"), "tables.members: missing"),
}


@pytest.mark.parametrize("change, expected", BAD.values(), ids=BAD.keys())
def test_restore_names_what_is_wrong_and_changes_nothing(
    good, empty_target, runner, tmp_path, change, expected
):
    secret = _secret(good)
    change(good["tables"])
    path = tmp_path / "backup.json"
    path.write_text(json.dumps(good), "utf-8")

    result = runner.invoke(main, ["restore", str(path)], catch_exceptions=False)

    assert result.exit_code == 1
    assert f"{path}: " in result.output and expected in result.output
    assert "nothing was changed" in result.output.splitlines()[-1]
    assert "Traceback" not in result.output and secret not in result.output
    assert secret.split("$")[1] not in result.output  # not even the salt
    assert _rows(empty_target) == 0


def test_restore_of_a_deeply_nested_file_is_refused_cleanly(empty_target, runner, tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    result = runner.invoke(main, ["restore", str(path)], catch_exceptions=False)
    assert result.exit_code == 1 and f"{path}: not a readable backup" in result.output
    assert "Traceback" not in result.output and _rows(empty_target) == 0


def test_backup_holds_every_column_of_every_table(good):
    tables = {t.name: t for t in Base.metadata.sorted_tables if t.name not in SKIPPED}
    assert set(good["tables"]) == set(tables)
    for name, rows in good["tables"].items():
        assert all(set(row) == set(tables[name].columns.keys()) for row in rows), name
    meeting, invite = good["tables"]["meetings"][0], good["tables"]["sent_invites"][0]
    assert {"cancel_reason", "presenters_by_hand", "deleted_at"} <= set(meeting)
    assert "claim" in invite


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
