"""Changing a session loads that session alone, lands in the right set, and loses nothing when
facilitators save at the same moment."""

from __future__ import annotations

import threading
from datetime import date
from datetime import time as clock

import pytest
from sqlalchemy import event, select, text

from toolkit import db as database
from toolkit import sets
from toolkit.models import LearningSet, Meeting, User
from toolkit.planning import local_start

from .conftest import PASSWORD, add_user, sign_in


def build(app, slug: str, sessions: int) -> None:
    """A set of 6 members with weekly sessions `session-1` … (every set has the same keys)."""
    kit = app.extensions["toolkit"]
    with database.transaction(kit.sessions) as db:
        s = sets.create_set(db, db.scalar(select(User)), slug, slug.title())
        for n in range(6):
            sets.add_member(db, s, f"Member {n}", f"{slug}-{n}@example.nhs.uk", "FY2")
        start = local_start(date(2037, 1, 8), clock(14), "Europe/London")
        sets.add_series(db, s, start, 1, sessions, kit.templates["action-learning-set"])


def titles(app, slug: str, key: str) -> list[str]:
    with app.extensions["toolkit"].sessions() as db:
        meeting = db.scalar(
            select(Meeting).join(LearningSet).where(LearningSet.slug == slug, Meeting.key == key)
        )
        return [block.title for block in meeting.blocks]


def add_block(client, slug: str, key: str, title: str) -> int:
    form = {"block-title": title, "block-kind": "input", "block-minutes": "5"}
    return client.post(f"/sets/{slug}/sessions/{key}/blocks", data=form).status_code


def test_adding_a_block_loads_that_session_alone_and_changes_that_sets_session(app, client):
    """Another set has a session with the same key; the set's other 11 sessions (each with its
    agenda, cases, attendance and replies) are not loaded to add one block."""
    sign_in(client, add_user(app, admin=True))
    build(app, "first", 12)
    build(app, "second", 12)
    loaded: list[Meeting] = []

    def count(meeting, _context) -> None:
        loaded.append(meeting)

    event.listen(Meeting, "load", count)
    try:
        assert add_block(client, "second", "session-3", "Huddle") == 302
    finally:
        event.remove(Meeting, "load", count)
    assert [m.key for m in loaded] == ["session-3"]
    assert "Huddle" in titles(app, "second", "session-3")
    assert "Huddle" not in titles(app, "first", "session-3")


def test_a_change_that_needs_the_whole_set_still_gets_it(app, client):
    """A presenter round changes the rota of every later session: those load when it is used."""
    sign_in(client, add_user(app, admin=True))
    build(app, "first", 4)
    form = {"block-title": "Presenter round", "block-kind": "presenter", "block-minutes": "30"}
    assert client.post("/sets/first/sessions/session-2/blocks", data=form).status_code == 302
    assert "Presenter round" in titles(app, "first", "session-2")
    assert client.get("/sets/first/sessions/session-4").status_code == 200


def test_blocks_added_at_the_same_moment_are_all_saved(app):
    """Four facilitators' browsers add blocks to their own sessions of one set at once."""
    add_user(app, admin=True)
    build(app, "busy", 4)
    clients = [app.test_client() for _ in range(4)]
    for n, each in enumerate(clients):
        email = f"fac{n}@example.org"
        add_user(app, email, admin=True)
        each.post("/login", data={"email": email, "password": PASSWORD})
    answers: list[int] = []
    start = threading.Barrier(len(clients))

    def work(n: int) -> None:
        start.wait()
        for i in range(8):
            answers.append(add_block(clients[n], "busy", f"session-{n + 1}", f"Block {n}-{i}"))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [302] * 32
    for n in range(len(clients)):
        assert {f"Block {n}-{i}" for i in range(8)} <= set(titles(app, "busy", f"session-{n + 1}"))


def test_sqlite_is_written_ahead_and_synced_at_checkpoints(env):
    """WAL lets pages be read while a change is written; synchronous=NORMAL syncs the log at
    checkpoints instead of at every commit, so a writer holds the lock for less time (a power
    cut can lose the last commits, never the database; a crash of the app loses nothing)."""
    if env.database_url.startswith("postgresql"):
        pytest.skip("SQLite settings")
    engine = database.make_engine(env.database_url)
    with engine.connect() as connection:
        assert connection.scalar(text("PRAGMA journal_mode")) == "wal"
        assert connection.scalar(text("PRAGMA synchronous")) == 1
        assert connection.scalar(text("PRAGMA busy_timeout")) == 5000
    engine.dispose()
