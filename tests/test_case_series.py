"""A case in three parts across three meetings: attaching part 1 puts parts 2 and 3 on the next
two sessions, in order, skipping cancelled ones; with too few sessions left nothing is attached."""

from __future__ import annotations

import pytest

from toolkit.web import create_app

from .conftest import DATA
from .test_rota import make_set, url
from .test_sets_web import meetings, text

PART = "the-long-winter-part-{}"


@pytest.fixture
def app(env, monkeypatch):
    """The app over a bank whose only case is in three parts."""
    monkeypatch.setenv("TOOLKIT_CASEBANK_DIR", str(DATA / "series_casebank"))
    return create_app({"TESTING": True, "WTF_CSRF_ENABLED": False})


@pytest.fixture
def db(app):
    with app.extensions["toolkit"].sessions() as session:
        yield session


def attached(db) -> list[list[str]]:
    """Each session's attached case ids, in order."""
    return [[c.case_id for c in sorted(m.cases, key=lambda c: c.position)] for m in meetings(db)]


def attach(client, db, number: int, case: str):
    meeting = meetings(db)[number - 1]
    data = {"case": case, "do": "attach", "version": str(meeting.version)}
    return client.post(url(meeting) + "/attach", data=data, follow_redirects=True)


def test_part_one_brings_parts_two_and_three_to_the_next_sessions(app, db, signed_in):
    make_set(signed_in, db, count=5)
    cancelled = meetings(db)[2]
    form = {"status": "cancelled", "version": str(cancelled.version)}
    signed_in.post(url(cancelled) + "/status", data=form)
    assert meetings(db)[2].status == "cancelled"
    shown = text(attach(signed_in, db, 2, PART.format(1)))
    assert "Added to the session; also part 2 to session 4, part 3 to session 5." in shown
    assert attached(db) == [[], [PART.format(1)], [], [PART.format(2)], [PART.format(3)]]
    later = meetings(db)[3]
    assert any(b.title == "Case: The long winter, part 2" for b in later.blocks)


def test_part_one_needs_a_session_for_each_later_part(app, db, signed_in):
    make_set(signed_in, db, count=3)
    shown = text(attach(signed_in, db, 2, PART.format(1)))
    assert "is part 1 of 3, one part per session: add 1 more session(s) after this one" in shown
    assert attached(db) == [[], [], []]
    # a later part on its own goes only where it is put
    attach(signed_in, db, 3, PART.format(3))
    assert attached(db) == [[], [], [PART.format(3)]]
