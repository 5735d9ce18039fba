"""Members' replies: recorded once per member and session (the latest wins), counted, and
apologies carried into the register so the rota skips them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import select

from toolkit import db as database
from toolkit import replies, sets
from toolkit.accounts import create_user
from toolkit.config import REPO_ROOT, Settings
from toolkit.models import LearningSet, Rsvp
from toolkit.planning import local_start
from toolkit.session_templates import load_session_templates

MEMBERS = [
    ("Zoë Marsh", "zoe@example.nhs.uk"),
    ("Łukasz Nowak", "lukasz@example.nhs.uk"),
    ("Siobhán O'Brien", "siobhan@example.nhs.uk"),
    ("Amara Okafor", "amara@example.nhs.uk"),
    ("Tom Reid", "tom@example.nhs.uk"),
    ("Priya Shah", "priya@example.nhs.uk"),
]
NOW = datetime(2027, 1, 1, tzinfo=UTC)


@pytest.fixture
def factory(env: Settings):
    return database.session_factory(database.make_engine(env.database_url))


@pytest.fixture
def db(factory):
    """A session on a set of 6 with 3 sessions every 6 weeks from 11 Feb 2027 at 14:00."""
    templates = load_session_templates(REPO_ROOT / "session_templates")
    with database.transaction(factory) as session:
        owner = create_user(session, "fac@example.org", None, "Dr Siobhán O'Neil")
        s = sets.create_set(session, owner, "set-a", "Set A", venue="Seminar Room 2")
        for name, email in MEMBERS:
            sets.add_member(session, s, name, email, "FY2")
        start = local_start(date(2027, 2, 11), time(14, 0), "Europe/London")
        sets.add_series(session, s, start, 6, 3, templates["action-learning-set"])
    session = factory()
    yield session
    session.close()


def _first(db) -> LearningSet:
    return db.scalar(select(LearningSet))


def test_replies_are_counted_and_the_latest_wins(db):
    s = _first(db)
    meeting = s.meetings[0]
    zoe, lukasz, siobhan, amara, tom, _priya = s.members
    for member in (zoe, lukasz, siobhan):
        replies.record_reply(db, meeting, member, "attending", now=NOW)
    replies.record_reply(db, meeting, amara, "apologies", "On nights that week", now=NOW)
    replies.record_reply(db, meeting, tom, "apologies", now=NOW)
    replies.record_reply(db, meeting, tom, "attending", "Swapped my shift", "calendar", 2, NOW)
    db.commit()
    assert str(replies.summary(meeting)) == "4 coming, 1 apologies, 1 not answered"
    rows = db.scalars(select(Rsvp)).all()
    assert len(rows) == 5  # one row per member and session
    tom_reply = replies.replies_by_member(meeting)[tom.id]
    assert (tom_reply.status, tom_reply.note, tom_reply.source, tom_reply.sequence) == (
        "attending",
        "Swapped my shift",
        "calendar",
        2,
    )
    replies.record_reply(db, meeting, zoe, "tentative", now=NOW)
    assert str(replies.summary(meeting)) == "3 coming, 1 apologies, 1 maybe, 1 not answered"
    assert str(replies.summary(s.meetings[1])) == "0 coming, 0 apologies, 6 not answered"


def test_apologies_go_into_the_register_and_the_rota_skips_them(db):
    s = _first(db)
    meeting = s.meetings[1]
    amara = s.members[3]
    replies.record_reply(db, meeting, amara, "apologies", now=NOW)
    assert sets.apologies(meeting) == {amara.id}
    assert amara.id not in sets.proposed_presenters(meeting, 6)
    replies.record_reply(db, meeting, amara, "attending", now=NOW)  # a change of mind
    assert sets.apologies(meeting) == set()
    assert amara.id in sets.proposed_presenters(meeting, 6)


def test_apologies_keep_those_the_facilitator_recorded(db):
    s = _first(db)
    meeting = s.meetings[0]
    sets.record_apologies(db, meeting, {s.members[0].id}, NOW)
    replies.record_reply(db, meeting, s.members[1], "apologies", now=NOW)
    assert sets.apologies(meeting) == {s.members[0].id, s.members[1].id}


def test_bad_replies_are_refused_and_nothing_is_written(db):
    s = _first(db)
    meeting = s.meetings[0]
    zoe = s.members[0]
    with pytest.raises(sets.SetError, match="one of attending, apologies, tentative"):
        replies.record_reply(db, meeting, zoe, "maybe", now=NOW)
    with pytest.raises(sets.SetError, match="limit is 500"):
        replies.record_reply(db, meeting, zoe, "attending", "x" * 501, now=NOW)
    with pytest.raises(sets.SetError, match="has started"):
        replies.record_reply(db, meeting, zoe, "attending", now=datetime(2027, 3, 1, tzinfo=UTC))
    sets.remove_member(db, s.members[5])
    with pytest.raises(sets.SetError, match="members of this set"):
        replies.record_reply(db, meeting, s.members[5], "attending", now=NOW)
    sets.set_status(db, s.meetings[2], "cancelled")
    with pytest.raises(sets.SetError, match="cancelled"):
        replies.record_reply(db, s.meetings[2], zoe, "attending", now=NOW)
    assert meeting.rsvps == [] and s.meetings[2].rsvps == []


def test_a_set_file_may_carry_replies_to_past_sessions_without_touching_the_register(db):
    s = _first(db)
    meeting = s.meetings[0]
    later = datetime(2027, 3, 1, tzinfo=UTC)
    replies.record_reply(db, meeting, s.members[0], "apologies", source="import", now=later)
    assert replies.summary(meeting).apologies == 1
    assert sets.apologies(meeting) == set()
