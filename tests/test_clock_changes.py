"""Times the clocks skip are refused and times they pass twice are asked about, with real zone data.

In 2027 the clocks in Europe/London go forward at 01:00 GMT on Sunday 28 March (01:00-01:59 never
happens) and back at 02:00 BST on Sunday 31 October (01:00-01:59 happens twice).
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from toolkit.clock_changes import (
    happens_twice,
    missing_time_problem,
    offset_name,
    twice_question,
    wall_time_exists,
)
from toolkit.models import LearningSet, Meeting

LONDON = ZoneInfo("Europe/London")
SKIPPED = (
    "01:30 on Sunday 28 March 2027 does not exist in Europe/London: the clocks go forward at "
    "01:00 that day; choose another time"
)
FIRST, SECOND = "the first 01:30 (BST, UTC+1)", "the second 01:30 (GMT, UTC+0)"
TEMPLATE = "action-learning-set"


def page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def starts(app, slug: str = "set-c") -> list[datetime]:
    """The set's session starts in UTC, in order."""
    with app.extensions["toolkit"].sessions() as db:
        found = db.scalar(select(LearningSet).where(LearningSet.slug == slug))
        return [m.starts_at for m in sorted(found.meetings, key=lambda m: m.starts_at)]


@pytest.fixture
def set_c(signed_in):
    """An empty set in Europe/London; the client is its facilitator."""
    made = signed_in.post(
        "/sets/new", data={"title": "Set C", "slug": "set-c", "time_zone": "Europe/London"}
    )
    assert made.status_code == 302, made.text
    return signed_in


def add(client, day: str, clock: str, which: str | None = None, slug: str = "set-c"):
    data = {"one-date": day, "one-start_time": clock, "one-template": TEMPLATE}
    return client.post(
        f"/sets/{slug}/sessions", data=data | ({"one-which": which} if which else {})
    )


def series(client, first: str, clock: str, count: int, which: str | None = None):
    data = {
        "series-first_date": first,
        "series-start_time": clock,
        "series-every_weeks": "1",
        "series-count": str(count),
        "series-template": TEMPLATE,
    }
    return client.post(
        "/sets/set-c/schedule", data=data | ({"series-which": which} if which else {})
    )


def test_the_core_knows_which_times_never_happen_and_which_happen_twice():
    assert not wall_time_exists(datetime(2027, 3, 28, 1, 30), LONDON)
    assert wall_time_exists(datetime(2027, 3, 28, 2, 30), LONDON)  # already BST, not skipped
    assert happens_twice(datetime(2027, 10, 31, 1, 30), LONDON)
    assert not happens_twice(datetime(2027, 10, 31, 2, 30), LONDON)
    assert not happens_twice(datetime(2027, 3, 28, 1, 30), LONDON)  # a gap is not a fold
    assert missing_time_problem([datetime(2027, 3, 28, 1, 30)], LONDON) == SKIPPED
    berlin = missing_time_problem([datetime(2027, 3, 28, 2, 30)], ZoneInfo("Europe/Berlin"))
    assert "the clocks go forward at 02:00 that day" in berlin
    question = twice_question([datetime(2027, 10, 31, 1, 30)], LONDON)
    assert (question.first, question.second) == (FIRST, SECOND)
    assert question.legend == (
        "The clocks go back on Sunday 31 October 2027, so 01:30 happens twice. Which do you mean?"
    )
    india = datetime(2027, 1, 1, 9, tzinfo=ZoneInfo("Asia/Kolkata"))
    assert offset_name(india) == "IST, UTC+5:30"


def test_a_session_at_a_time_the_clocks_skip_is_refused_not_moved(app, set_c):
    response = add(set_c, "2027-03-28", "01:30")
    assert response.status_code == 400
    assert SKIPPED in page(response)
    assert 'href="#one-start_time"' in response.text  # the summary links to the field
    assert starts(app) == []  # not quietly added at 02:30
    assert add(set_c, "2027-03-28", "02:30").status_code == 302  # 02:30 BST exists
    assert starts(app) == [datetime(2027, 3, 28, 1, 30, tzinfo=UTC)]


def test_a_series_is_refused_when_any_of_its_dates_reaches_a_skipped_time(app, set_c):
    response = series(set_c, "2027-03-14", "01:30", 4)
    assert response.status_code == 400
    assert (
        "01:30 on Sunday 28 March 2027 (session 3 of the series) does not exist in "
        "Europe/London: the clocks go forward at 01:00 that day" in page(response)
    )
    assert starts(app) == []


def test_moving_a_session_to_a_skipped_time_is_refused(app, db_meeting):
    client, key, version = db_meeting
    details = {
        "details-title": "Session 1",
        "details-date": "2027-03-28",
        "details-start_time": "01:30",
        "details-minutes": "180",
        "details-version": version,
    }
    response = client.post(f"/sets/set-c/sessions/{key}/details", data=details)
    assert response.status_code == 400 and SKIPPED in page(response)
    assert starts(app) == [datetime(2027, 2, 11, 14, tzinfo=UTC)]


@pytest.fixture
def db_meeting(app, set_c):
    """The set with one session on 11 Feb 2027 at 14:00: the client, its key and version."""
    assert add(set_c, "2027-02-11", "14:00").status_code == 302
    with app.extensions["toolkit"].sessions() as db:
        meeting = db.scalars(select(Meeting)).one()
        return set_c, meeting.key, str(meeting.version)


def test_a_time_that_happens_twice_is_asked_about_then_taken_as_chosen(app, set_c):
    asked = add(set_c, "2027-10-31", "01:30")
    assert asked.status_code == 400
    text = page(asked)
    assert FIRST in text and SECOND in text and "Which do you mean?" in text
    assert 'name="one-which" type="radio" value="second"' in asked.text
    assert f"Choose {FIRST} or {SECOND}" in text and 'href="#one-which"' in asked.text
    assert starts(app) == []
    assert add(set_c, "2027-10-31", "01:30", "second").status_code == 302
    assert starts(app) == [datetime(2027, 10, 31, 1, 30, tzinfo=UTC)]  # 01:30 GMT
    assert add(set_c, "2027-10-31", "01:30", "first").status_code == 302
    assert starts(app)[0] == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)  # 01:30 BST
    assert add(set_c, "2027-10-31", "01:30", "third").status_code == 400  # not a reading


def test_a_series_reaching_a_time_that_happens_twice_asks_and_keeps_the_choice(app, set_c):
    asked = series(set_c, "2027-10-17", "01:30", 3)
    assert asked.status_code == 400 and SECOND in page(asked)
    assert "The clocks go back on Sunday 31 October 2027" in page(asked)
    assert series(set_c, "2027-10-17", "01:30", 3, "second").status_code == 302
    assert starts(app) == [
        datetime(2027, 10, 17, 0, 30, tzinfo=UTC),  # BST
        datetime(2027, 10, 24, 0, 30, tzinfo=UTC),
        datetime(2027, 10, 31, 1, 30, tzinfo=UTC),  # the second 01:30, as chosen
    ]


def test_a_session_at_the_second_reading_keeps_it_when_saved_again(app, set_c):
    assert add(set_c, "2027-10-31", "01:30", "second").status_code == 302
    with app.extensions["toolkit"].sessions() as db:
        meeting = db.scalars(select(Meeting)).one()
        key, version, minutes = meeting.key, str(meeting.version), str(meeting.minutes)
    shown = set_c.get(f"/sets/set-c/sessions/{key}")
    assert 'name="details-which" type="radio" value="second" checked' in shown.text
    details = {
        "details-title": "Renamed",
        "details-date": "2027-10-31",
        "details-start_time": "01:30",
        "details-minutes": minutes,
        "details-which": "second",
        "details-version": version,
    }
    saved = set_c.post(f"/sets/set-c/sessions/{key}/details", data=details)
    assert saved.status_code == 302, saved.text
    assert starts(app) == [datetime(2027, 10, 31, 1, 30, tzinfo=UTC)]
    assert unchanged(app)  # the same moment: no "time changed" update for the members


def unchanged(app) -> bool:
    """Whether the set's only session has no recorded change and its first SEQUENCE."""
    with app.extensions["toolkit"].sessions() as db:
        meeting = db.scalars(select(Meeting)).one()
        return meeting.sequence == 0 and meeting.changes == []


def test_saving_a_summer_session_unchanged_records_no_move(app, set_c):
    assert add(set_c, "2027-06-10", "14:00").status_code == 302
    with app.extensions["toolkit"].sessions() as db:
        meeting = db.scalars(select(Meeting)).one()
        key, version, minutes = meeting.key, str(meeting.version), str(meeting.minutes)
    details = {
        "details-title": "Session 1",
        "details-date": "2027-06-10",
        "details-start_time": "14:00",
        "details-minutes": minutes,
        "details-version": version,
    }
    assert set_c.post(f"/sets/set-c/sessions/{key}/details", data=details).status_code == 302
    assert unchanged(app)  # 14:00 BST is the 13:00 UTC stored, not a move
