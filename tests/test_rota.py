"""The presenter rota across a set's sessions: later sessions follow earlier changes, unless their
presenters were chosen by hand; over HTTP with the real app and database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from toolkit import sets
from toolkit.models import LearningSet, Meeting

from .test_sets_web import MEMBERS, meetings, text

ZOE, LUKASZ, SIOBHAN, AMARA, TOM, PRIYA = (name for name, _, _ in MEMBERS)


@pytest.fixture
def db(app):
    """A database session the test reads through (`meetings` expires it before each read)."""
    with app.extensions["toolkit"].sessions() as session:
        yield session


def set_version(db) -> str:
    db.expire_all()
    return str(db.scalar(select(LearningSet).where(LearningSet.slug == "set-a")).version)


def make_set(client, db, first: str = "2027-02-11", count: int = 4) -> None:
    """A set of six members with `count` classic sessions (3 presenter rounds) 6 weeks apart."""
    client.post("/sets/new", data={"title": "Set A", "slug": "set-a", "time_zone": "Europe/London"})
    for name, email, grade in MEMBERS:
        data = {"member-name": name, "member-email": email, "member-grade": grade}
        data["member-version"] = set_version(db)
        assert client.post("/sets/set-a/members", data=data).status_code == 302
    series = {
        "series-first_date": first,
        "series-start_time": "14:00",
        "series-every_weeks": "6",
        "series-count": str(count),
        "series-template": "action-learning-set",
        "series-version": set_version(db),
    }
    assert client.post("/sets/set-a/schedule", data=series).status_code == 302
    assert len(meetings(db)) == count


def rota(db) -> list[list[str]]:
    """Each session's presenters by name, in round order."""
    names = {m.id: m.name for m in meetings(db)[0].learning_set.members}
    return [[names.get(b.presenter_id) for b in sets.presenter_rounds(m)] for m in meetings(db)]


def url(meeting: Meeting) -> str:
    return f"/sets/set-a/sessions/{meeting.key}"


def choose(client, db, number: int, *names: str) -> None:
    """Choose a session's presenters by hand on its page."""
    meeting = meetings(db)[number - 1]
    ids = {m.name: m.id for m in meeting.learning_set.members}
    data = {"do": "save", "version": str(meeting.version)}
    for block, name in zip(sets.presenter_rounds(meeting), names, strict=True):
        data[f"presenter-{block.id}"] = str(ids[name])
    assert client.post(url(meeting) + "/rota", data=data).status_code == 302


def use_rota(client, db, number: int) -> None:
    meeting = meetings(db)[number - 1]
    data = {"do": "propose", "version": str(meeting.version)}
    assert client.post(url(meeting) + "/rota", data=data).status_code == 302


def source(client, meeting: Meeting) -> str:
    """What the session's page says about where its presenters come from."""
    page = text(client.get(url(meeting)))
    return page.split('id="rota-source">')[1].split("</p>")[0]


def test_later_sessions_follow_presenters_chosen_by_hand(app, db, signed_in):
    make_set(signed_in, db)
    assert rota(db) == [[ZOE, LUKASZ, SIOBHAN], [AMARA, TOM, PRIYA]] * 2
    choose(signed_in, db, 1, AMARA, TOM, PRIYA)
    # everyone presents once in sessions 1 and 2 before anyone presents twice
    assert rota(db) == [[AMARA, TOM, PRIYA], [ZOE, LUKASZ, SIOBHAN]] * 2
    first, second = meetings(db)[:2]
    assert first.presenters_by_hand and not second.presenters_by_hand
    assert "Chosen by hand" in source(signed_in, first)
    assert "Proposed by the rota (follows earlier sessions)" in source(signed_in, second)
    # back to the rota's proposal: session 1 follows again, and so do the others
    use_rota(signed_in, db, 1)
    assert rota(db) == [[ZOE, LUKASZ, SIOBHAN], [AMARA, TOM, PRIYA]] * 2
    assert not meetings(db)[0].presenters_by_hand
    assert "Proposed by the rota (follows earlier sessions)" in source(signed_in, meetings(db)[0])


def test_apologies_move_a_presenter_to_a_later_session(app, db, signed_in):
    make_set(signed_in, db)
    choose(signed_in, db, 1, ZOE, LUKASZ, SIOBHAN)
    second = meetings(db)[1]
    amara = next(m.id for m in second.learning_set.members if m.name == AMARA)
    data = {"apologies": str(amara), "version": str(second.version)}
    assert signed_in.post(url(second) + "/apologies", data=data).status_code == 302
    # Amara's round in session 2 goes to the next in turn (Zoë); she presents in session 3
    assert rota(db) == [
        [ZOE, LUKASZ, SIOBHAN],
        [TOM, PRIYA, ZOE],
        [AMARA, LUKASZ, SIOBHAN],
        [TOM, PRIYA, AMARA],
    ]
    page = text(signed_in.get(url(meetings(db)[1])))
    assert "Tom Reid, Priya Shah, Zoë Marsh." in page.split("Proposed, so")[1].split("</p>")[0]


def test_a_session_chosen_by_hand_stays_when_an_earlier_one_changes(app, db, signed_in):
    make_set(signed_in, db)
    choose(signed_in, db, 3, ZOE, LUKASZ, SIOBHAN)
    choose(signed_in, db, 1, AMARA, TOM, PRIYA)
    assert rota(db) == [
        [AMARA, TOM, PRIYA],
        [ZOE, LUKASZ, SIOBHAN],
        [ZOE, LUKASZ, SIOBHAN],  # by hand: left alone
        [AMARA, TOM, PRIYA],  # follows, counting session 3 as it stands
    ]
    assert "Chosen by hand" in source(signed_in, meetings(db)[2])
    assert "Proposed by the rota (follows earlier sessions)" in source(signed_in, meetings(db)[3])


def test_cancelled_sessions_and_removed_rounds_move_the_rota_up(app, db, signed_in):
    make_set(signed_in, db)
    second = meetings(db)[1]
    data = {"status": "cancelled", "version": str(second.version)}
    signed_in.post(url(second) + "/status", data=data)
    assert rota(db)[2:] == [[AMARA, TOM, PRIYA], [ZOE, LUKASZ, SIOBHAN]]
    second = meetings(db)[1]
    signed_in.post(url(second) + "/status", data={"status": "scheduled", "version": second.version})
    assert rota(db)[1:] == [[AMARA, TOM, PRIYA], [ZOE, LUKASZ, SIOBHAN], [AMARA, TOM, PRIYA]]
    # without session 2's third round, Priya presents first in session 3
    second = meetings(db)[1]
    last_round = sets.presenter_rounds(second)[-1]
    data = {"do": "remove", "version": str(second.version)}
    assert signed_in.post(url(second) + f"/blocks/{last_round.id}", data=data).status_code == 302
    assert rota(db)[1:] == [[AMARA, TOM], [PRIYA, ZOE, LUKASZ], [SIOBHAN, AMARA, TOM]]


def test_deleting_a_session_moves_the_rota_up(app, db, signed_in):
    make_set(signed_in, db)
    second = meetings(db)[1]
    assert signed_in.post(url(second) + "/delete").status_code == 302
    assert rota(db) == [[ZOE, LUKASZ, SIOBHAN], [AMARA, TOM, PRIYA], [ZOE, LUKASZ, SIOBHAN]]


def test_members_joining_and_leaving_change_the_sessions_to_come(app, db, signed_in):
    make_set(signed_in, db)
    data = {"member-name": "Noor Ali", "member-email": "noor@example.nhs.uk"}
    data["member-version"] = set_version(db)
    assert signed_in.post("/sets/set-a/members", data=data).status_code == 302
    # Noor joins after the others, so she is first in session 3, after everyone's first turn
    assert rota(db)[1:3] == [[AMARA, TOM, PRIYA], ["Noor Ali", ZOE, LUKASZ]]
    learning_set = meetings(db)[0].learning_set
    tom = next(m.id for m in learning_set.members if m.name == TOM)
    data = {"version": str(learning_set.version)}
    assert signed_in.post(f"/sets/set-a/members/{tom}/remove", data=data).status_code == 302
    assert all(TOM not in presenters for presenters in rota(db))


def test_sessions_that_have_started_keep_their_presenters(app, db, signed_in):
    first = (datetime.now(UTC) - timedelta(days=14)).date().isoformat()
    make_set(signed_in, db, first=first, count=3)
    started, upcoming = meetings(db)[:2]
    assert rota(db) == [[ZOE, LUKASZ, SIOBHAN], [AMARA, TOM, PRIYA], [ZOE, LUKASZ, SIOBHAN]]
    # Zoë was on the rota for session 1 but sent apologies: she presents in session 2 instead
    zoe = next(m.id for m in started.learning_set.members if m.name == ZOE)
    data = {f"member-{zoe}": "apologies", "version": str(started.version)}
    assert signed_in.post(url(started) + "/attendance", data=data).status_code == 302
    assert rota(db) == [[ZOE, LUKASZ, SIOBHAN], [ZOE, AMARA, TOM], [PRIYA, LUKASZ, SIOBHAN]]
    assert "The session has started" in source(signed_in, started)
    assert "follows earlier sessions" in source(signed_in, upcoming)


def test_asking_the_rota_again_skips_members_who_sent_apologies(app, db, signed_in):
    """A session chosen by hand keeps its presenters when one sends apologies (the facilitator
    decides); asking the rota again then leaves that member out, here and in later sessions."""
    make_set(signed_in, db)
    choose(signed_in, db, 2, AMARA, TOM, PRIYA)
    second = meetings(db)[1]
    amara = next(m.id for m in second.learning_set.members if m.name == AMARA)
    data = {"apologies": str(amara), "version": str(second.version)}
    assert signed_in.post(url(second) + "/apologies", data=data).status_code == 302
    assert rota(db)[1] == [AMARA, TOM, PRIYA]
    page = text(signed_in.get(url(meetings(db)[1])))
    proposal = page.split("Proposed, so")[1].split("</p>")[0]
    assert proposal.endswith("skipping apologies: Tom Reid, Priya Shah, Zoë Marsh.")
    use_rota(signed_in, db, 2)
    assert rota(db) == [
        [ZOE, LUKASZ, SIOBHAN],
        [TOM, PRIYA, ZOE],
        [AMARA, LUKASZ, SIOBHAN],
        [TOM, PRIYA, AMARA],
    ]
    assert "Proposed by the rota" in source(signed_in, meetings(db)[1])
