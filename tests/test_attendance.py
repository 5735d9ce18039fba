"""Attendance and certificates only for sessions that have started; apologies before."""

from __future__ import annotations

import html
from datetime import date, time, timedelta

import pytest
from sqlalchemy import select

from toolkit import db as database
from toolkit import sets
from toolkit.accounts import create_user
from toolkit.casebank import load_bank
from toolkit.config import REPO_ROOT
from toolkit.frameworks import load_frameworks
from toolkit.models import Attendance, Meeting
from toolkit.packs import build_pack, document_names
from toolkit.planning import local_start
from toolkit.session_templates import load_session_templates

from .test_sets_web import days_ago, make_set, meetings

TEMPLATES = load_session_templates(REPO_ROOT / "session_templates")


@pytest.fixture
def factory(env):
    return database.session_factory(database.make_engine(env.database_url))


def _set_with_a_session(db) -> Meeting:
    owner = create_user(db, "fac@example.org", None, "Dr Facilitator")
    s = sets.create_set(db, owner, "set-a", "Set A")
    for n in range(4):
        sets.add_member(db, s, f"Member {n}", f"m{n}@example.nhs.uk", "FY1")
    start = local_start(date(2027, 1, 14), time(14, 0), "Europe/London")
    return sets.add_meeting(db, s, start, TEMPLATES["action-learning-set"])


def test_the_core_refuses_attendance_before_the_start_and_says_when(factory):
    with database.transaction(factory) as db:
        meeting = _set_with_a_session(db)
        member = meeting.learning_set.members[0].id
        before = meeting.starts_at - timedelta(minutes=1)
        with pytest.raises(sets.SetError) as refused:
            sets.record_attendance(db, meeting, {member: "present"}, now=before)
        assert str(refused.value).startswith(
            "You can record attendance once the session has started (Thu 14 Jan 2027, 14:00)"
        )
        assert meeting.attendance == []
        sets.record_attendance(db, meeting, {member: "present"}, now=meeting.starts_at)
        assert [(a.member_id, a.status) for a in meeting.attendance] == [(member, "present")]


def test_apologies_can_be_noted_before_the_start_and_the_rota_skips_them(factory):
    with database.transaction(factory) as db:
        meeting = _set_with_a_session(db)
        first, second = (m.id for m in meeting.learning_set.members[:2])
        before = meeting.starts_at - timedelta(days=1)
        sets.record_apologies(db, meeting, {first}, now=before)
        assert first not in sets.proposed_presenters(meeting, 3)
        sets.record_apologies(db, meeting, {second}, now=before)  # first is expected again
        assert {a.member_id: a.status for a in meeting.attendance} == {second: "apologies"}
        with pytest.raises(sets.SetError, match="has started: record attendance instead"):
            sets.record_apologies(db, meeting, {first}, now=meeting.starts_at)


def test_no_certificates_in_the_pack_before_the_start(factory):
    bank = load_bank(REPO_ROOT / "casebank")
    with database.transaction(factory) as db:
        meeting = _set_with_a_session(db)
        member = meeting.learning_set.members[0].id
        sets.record_attendance(db, meeting, {member: "present"}, now=meeting.starts_at)
        early = meeting.starts_at - timedelta(hours=1)
        assert "certificates" not in document_names(
            build_pack(db, meeting, bank, load_frameworks(), now=early)
        )
        assert "certificates" in document_names(
            build_pack(db, meeting, bank, load_frameworks(), now=meeting.starts_at)
        )


@pytest.fixture
def db(app):
    with app.extensions["toolkit"].sessions() as session:
        yield session


def test_the_page_offers_attendance_only_once_the_session_has_started(app, db, signed_in):
    make_set(signed_in, first=days_ago(70))  # sessions 1 and 2 have been; 3 to 6 are to come
    past, future = meetings(db)[0], meetings(db)[2]
    member = past.learning_set.members[0].id
    later = html.unescape(signed_in.get(f"/sets/set-a/sessions/{future.key}").text)
    start = sets.describe_start(future)
    assert f"You can record who was present once the session has started ({start})" in later
    assert f'name="member-{member}" type="radio"' not in later  # no attendance form yet
    assert "Save apologies" in later
    refused = signed_in.post(
        f"/sets/set-a/sessions/{future.key}/attendance", data={f"member-{member}": "present"}
    )
    assert refused.status_code == 400
    assert f"You can record attendance once the session has started ({start})" in html.unescape(
        refused.text
    )
    assert db.scalars(select(Attendance)).all() == []
    noted = signed_in.post(
        f"/sets/set-a/sessions/{future.key}/apologies", data={"apologies": str(member)}
    )
    assert noted.status_code == 302
    done = html.unescape(signed_in.get(f"/sets/set-a/sessions/{past.key}").text)
    assert f'name="member-{member}" type="radio"' in done and "Save attendance" in done
    saved = signed_in.post(
        f"/sets/set-a/sessions/{past.key}/attendance", data={f"member-{member}": "present"}
    )
    assert saved.status_code == 302
    db.expire_all()
    assert {(a.meeting_id, a.status) for a in db.scalars(select(Attendance))} == {
        (future.id, "apologies"),
        (past.id, "present"),
    }


def test_certificates_only_for_a_session_that_has_started(app, db, signed_in):
    make_set(signed_in, first=days_ago(70))
    past, future = meetings(db)[0], meetings(db)[-1]
    member = past.learning_set.members[0].id
    url = f"/sets/set-a/sessions/{past.key}"
    signed_in.post(url + "/attendance", data={f"member-{member}": "present"})
    assert "Certificates of attendance" in html.unescape(signed_in.get(url).text)
    assert signed_in.get(url + "/print/certificates.html").status_code == 200
    # presence recorded for a session still to come (as the core allows with a clock of its own,
    # or an imported file might hold): its certificates wait until it has started
    sets.record_attendance(db, future, {member: "present"}, now=future.starts_at)
    db.commit()
    url = f"/sets/set-a/sessions/{future.key}"
    page = html.unescape(signed_in.get(url).text)
    assert "Certificates of attendance" not in page
    assert "Certificates appear once attendance is recorded, after the session has started" in page
    assert signed_in.get(url + "/print/certificates.pdf").status_code == 404
    assert signed_in.get(url + "/print/certificates.html").status_code == 404
