"""Edits on a set's pages that nothing else reaches: ground rules, removing a member, adding one
session, reordering the agenda; and two saves of the same form landing at the same moment."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from toolkit import sets
from toolkit.models import LearningSet

from .conftest import PASSWORD
from .test_packs import pdf_text
from .test_sets_web import MEMBERS, make_set, meetings, text

SAME_MOMENT = "Someone else saved a change at the same moment; yours was not saved."


@pytest.fixture
def db(app):
    """A database session the test reads through (expired before each read)."""
    with app.extensions["toolkit"].sessions() as session:
        yield session


def the_set(db) -> LearningSet:
    db.expire_all()
    return db.scalar(select(LearningSet).where(LearningSet.slug == "set-a"))


def test_ground_rules_are_saved_one_per_line_and_shown(app, db, signed_in):
    make_set(signed_in)
    version = the_set(db).version
    rules = "We keep what is said here in the room\r\n\r\n  Questions, not advice  \nPhones away"
    response = signed_in.post(
        "/sets/set-a/ground-rules", data={"ground_rules": rules, "version": str(version)}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("#ground-rules")
    saved = the_set(db)
    assert saved.ground_rules == (
        "We keep what is said here in the room\nQuestions, not advice\nPhones away"
    )
    assert saved.version == version + 1
    page = text(signed_in.get("/sets/set-a"))
    assert "Ground rules saved." in page and "Phones away" in page
    printed = signed_in.get(f"/sets/set-a/sessions/{meetings(db)[0].key}/print/ground-rules.pdf")
    shown = pdf_text(printed.data)
    assert "We keep what is said here in the room" in shown
    assert "Questions, not advice" in shown and "Phones away" in shown


def test_removing_a_member_keeps_their_history_and_leaves_the_rota(app, db, signed_in):
    make_set(signed_in)
    zoe = next(m for m in the_set(db).members if m.name == MEMBERS[0][0])
    version = the_set(db).version
    response = signed_in.post(
        f"/sets/set-a/members/{zoe.id}/remove", data={"version": str(version)}
    )
    assert response.status_code == 302
    s = the_set(db)
    assert [m.name for m in s.members if m.active] == [name for name, _, _ in MEMBERS[1:]]
    assert zoe.id in {m.id for m in s.members}  # kept, inactive: attendance history stays
    for meeting in meetings(db):
        assert zoe.id not in {b.presenter_id for b in sets.presenter_rounds(meeting)}
    assert "Zoë Marsh removed from the set." in text(signed_in.get("/sets/set-a"))
    stale = signed_in.post(f"/sets/set-a/members/{zoe.id}/remove", data={"version": str(version)})
    assert stale.status_code == 409
    assert signed_in.post("/sets/set-a/members/99999/remove").status_code == 404


def test_adding_a_single_session_in_the_sets_zone(app, db, signed_in):
    make_set(signed_in)
    before = len(meetings(db))
    response = signed_in.post(
        "/sets/set-a/sessions",
        data={
            "one-date": "2027-07-01",
            "one-start_time": "09:30",
            "one-template": "short-action-learning-set",
        },
    )
    assert response.status_code == 302
    added = [m for m in meetings(db) if m.starts_at.date().isoformat() == "2027-07-01"]
    assert len(meetings(db)) == before + 1 and len(added) == 1
    local = sets.local(added[0])
    assert (local.hour, local.minute, local.utcoffset().total_seconds()) == (9, 30, 3600)
    assert added[0].blocks and "Session added." in text(signed_in.get("/sets/set-a"))
    refused = signed_in.post(
        "/sets/set-a/sessions",
        data={"one-date": "", "one-start_time": "09:30", "one-template": "no-such-template"},
    )
    assert refused.status_code == 400 and len(meetings(db)) == before + 1


def test_agenda_blocks_move_up_and_down_and_the_times_follow(app, db, signed_in):
    make_set(signed_in)
    first = meetings(db)[0]
    url = f"/sets/set-a/sessions/{first.key}"
    titles = [b.title for b in sorted(first.blocks, key=lambda b: b.position)]
    second_block = sorted(first.blocks, key=lambda b: b.position)[1]

    def move(block_id: int, do: str) -> int:
        meeting = meetings(db)[0]
        data = {"do": do, "version": str(meeting.version)}
        return signed_in.post(f"{url}/blocks/{block_id}", data=data).status_code

    def order() -> list[str]:
        return [b.title for b in sorted(meetings(db)[0].blocks, key=lambda b: b.position)]

    assert move(second_block.id, "up") == 302
    assert order() == [titles[1], titles[0], *titles[2:]]
    assert [b.position for b in sorted(meetings(db)[0].blocks, key=lambda b: b.position)] == list(
        range(len(titles))
    )
    timed = [(t.block.title, f"{t.start:%H:%M}") for t in sets.agenda(meetings(db)[0])][:3]
    assert timed == [
        ("Ground rules", "14:00"),
        ("Check-in", "14:05"),
        ("Bidding for airtime", "14:20"),  # the first session has no review of actions
    ]
    assert move(second_block.id, "down") == 302 and move(second_block.id, "down") == 302
    assert order() == [titles[0], titles[2], titles[1], *titles[3:]]
    top = sorted(meetings(db)[0].blocks, key=lambda b: b.position)[0]
    assert move(top.id, "up") == 302 and order()[0] == titles[0]  # the first stays first
    last = sorted(meetings(db)[0].blocks, key=lambda b: b.position)[-1]
    assert move(last.id, "down") == 302 and order()[-1] == titles[-1]
    stale = signed_in.post(f"{url}/blocks/{top.id}", data={"do": "down", "version": "1"})
    assert stale.status_code == 409 and order()[0] == titles[0]


def test_two_saves_of_the_same_form_at_the_same_moment_one_wins(app, db, signed_in, monkeypatch):
    """Two facilitators press save on the ground rules, both opened at the same version; both
    pass the version check before either writes. One is saved, the other is told and lost."""
    make_set(signed_in)
    version = str(the_set(db).version)
    clients = [app.test_client(), app.test_client()]
    for client in clients:
        assert client.post("/login", data={"email": "fac@example.org", "password": PASSWORD})
    both_checked = threading.Barrier(2, timeout=10)
    real = sets.set_ground_rules

    def at_the_same_moment(db, learning_set, rules):
        both_checked.wait()  # both have read the set and passed check_version
        real(db, learning_set, rules)

    monkeypatch.setattr(sets, "set_ground_rules", at_the_same_moment)
    answers: dict[str, object] = {}

    def save(client, rules: str) -> None:
        data = {"ground_rules": rules, "version": version}
        answers[rules] = client.post("/sets/set-a/ground-rules", data=data)

    threads = [
        threading.Thread(target=save, args=(client, rules))
        for client, rules in zip(clients, ("Rules from A", "Rules from B"), strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    statuses = sorted(r.status_code for r in answers.values())
    assert statuses == [302, 409], statuses
    winner = next(rules for rules, r in answers.items() if r.status_code == 302)
    loser = next(r for r in answers.values() if r.status_code == 409)
    assert SAME_MOMENT in text(loser)
    saved = the_set(db)
    assert saved.ground_rules == winner and saved.version == int(version) + 1
