"""The self-assessment: behaviour no test pinned until mutation testing (scripts/mutation.py)."""

from __future__ import annotations

import os
import re
import time as clocks
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from toolkit import db as database
from toolkit import self_assessment as service
from toolkit import sets
from toolkit.accounts import create_user
from toolkit.config import REPO_ROOT
from toolkit.frameworks import load_frameworks
from toolkit.models import LearningSet, Member, SelfRating
from toolkit.planning import local_start
from toolkit.session_templates import load_session_templates

FRAMEWORKS = load_frameworks()
DIMS = [a.id for a in FRAMEWORKS.hlm.areas]
TEMPLATES = load_session_templates(REPO_ROOT / "session_templates")
LONDON = ZoneInfo("Europe/London")
NOW = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)  # a Tuesday in British Summer Time


@pytest.fixture
def factory(env):
    return database.session_factory(database.make_engine(env.database_url))


@pytest.fixture
def set_id(factory) -> int:
    """Six members; the first session (held on 4 May 2027) had the first five present."""
    with database.transaction(factory) as db:
        owner = create_user(db, "fac@example.org", None, "Dr Facilitator")
        s = sets.create_set(db, owner, "set-a", "Set A")
        members = [
            sets.add_member(db, s, f"Dr Member {n}", f"m{n}@example.nhs.uk", "FY2")
            for n in range(6)
        ]
        start = local_start(date(2027, 5, 4), time(14, 0), "Europe/London")
        first, _second = sets.add_series(db, s, start, 8, 2, TEMPLATES["action-learning-set"])
        marks = {m.id: "present" for m in members[:5]} | {members[5].id: "absent"}
        sets.record_attendance(db, first, marks, now=start + timedelta(hours=1))
        return s.id


def _members(db, set_id: int) -> list[Member]:
    return sorted(db.get(LearningSet, set_id).members, key=lambda m: m.id)


def _rate(db, member: Member, phase: str, level: int | list[int]) -> None:
    levels = level if isinstance(level, list) else [level] * len(DIMS)
    service.save_ratings(db, member, phase, dict(zip(DIMS, levels, strict=True)), DIMS)


@pytest.fixture
def clock(monkeypatch):
    """Set the self-assessment's clock: `clock(when)`."""

    def move(when: datetime) -> None:
        monkeypatch.setattr(service, "utcnow", lambda: when)

    move(NOW)
    return move


def test_a_private_link_opens_only_with_the_whole_token(factory, set_id):
    with database.transaction(factory) as db:
        member = _members(db, set_id)[0]
        token = service.ensure_token(member)
        assert service.ensure_token(member) == token and len(token) >= 32
    with database.transaction(factory) as db:
        assert service.member_by_token(db, token).email == "m0@example.nhs.uk"
        assert service.member_by_token(db, token[:-1]) is None
        assert service.member_by_token(db, token[:31]) is None
        assert service.member_by_token(db, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
        assert service.member_by_token(db, "") is None
        member = _members(db, set_id)[0]
        new = service.replace_token(member)
        assert new != token and len(new) >= 32
    with factory() as db:
        assert service.member_by_token(db, token) is None
        assert service.member_by_token(db, new).email == "m0@example.nhs.uk"
        # another member's token opens only that member
        assert all(m.assessment_token is None for m in _members(db, set_id)[1:])


def test_every_dimension_needs_a_level_from_one_to_four(factory, set_id, clock):
    ratings = dict.fromkeys(DIMS, 3) | {DIMS[2]: 5, DIMS[7]: 0}
    assert service.unanswered(ratings, DIMS) == [DIMS[2], DIMS[7]]
    assert service.unanswered(dict.fromkeys(DIMS, 1), DIMS) == []
    assert service.unanswered(dict.fromkeys(DIMS, 4), DIMS) == []
    with database.transaction(factory) as db:
        member = _members(db, set_id)[0]
        with pytest.raises(sets.SetError, match=r"^rate every dimension \(2 still to do\)$"):
            service.save_ratings(db, member, "start", ratings, DIMS)
        with pytest.raises(sets.SetError, match="^choose the start or the end of the programme$"):
            service.save_ratings(db, member, "middle", dict.fromkeys(DIMS, 2), DIMS)
        assert service.ratings_of(db, member) == {}


def test_answering_again_replaces_and_deleting_removes_every_rating(factory, set_id, clock):
    with database.transaction(factory) as db:
        member = _members(db, set_id)[0]
        _rate(db, member, "start", 2)
        _rate(db, member, "start", [1, 2, 3, 4, 1, 2, 3, 4, 1])
        _rate(db, member, "end", 4)
    with database.transaction(factory) as db:
        member = _members(db, set_id)[0]
        ratings = service.ratings_of(db, member)
        assert ratings["start"] == dict(zip(DIMS, [1, 2, 3, 4, 1, 2, 3, 4, 1], strict=True))
        assert ratings["end"] == dict.fromkeys(DIMS, 4)
        assert service.answered_by(db, member.learning_set) == {
            "start": {member.id},
            "end": {member.id},
        }
        assert service.delete_ratings(db, member, DIMS) == 18
    with factory() as db:
        assert service.ratings_of(db, _members(db, set_id)[0]) == {}


def test_totals_count_each_level_only_from_members_who_came_and_answered_in_time(
    factory, set_id, clock
):
    """Closed at the end of 10 June: five who came answered by then (one answers again too late);
    the one who never came, and an answer after the close, are not counted."""
    with database.transaction(factory) as db:
        members = _members(db, set_id)
        closes = service.set_closing_date(
            db, members[0].learning_set, "start", date(2027, 6, 10), NOW
        )
        assert closes == datetime(2027, 6, 10, 23, 0, tzinfo=UTC)  # midnight in BST
        assert service.last_open_day(closes, LONDON) == date(2027, 6, 10)
        for member, level in zip(members[:4], [1, 2, 2, 4], strict=True):
            _rate(db, member, "start", level)
        _rate(db, members[5], "start", 3)  # never came to a session
    clock(closes - timedelta(seconds=1))  # answered in the last second
    with database.transaction(factory) as db:
        _rate(db, _members(db, set_id)[4], "start", [3] * 8 + [1])
    with database.transaction(factory) as db:
        learning_set = db.get(LearningSet, set_id)
        before = service.published_totals(db, learning_set, DIMS, now=closes - timedelta(seconds=1))
    assert before["start"].closed_at is None and before["start"].counts is None
    assert (before["start"].answered, before["start"].members) == (6, 6)
    assert before["start"].closes_at == closes
    after = closes + timedelta(hours=1)
    clock(after)
    with database.transaction(factory) as db:
        _rate(db, _members(db, set_id)[0], "start", 4)  # too late: its totals are fixed
        totals = service.published_totals(db, db.get(LearningSet, set_id), DIMS, now=after)
    start, end = totals["start"], totals["end"]
    assert start.counted == 5 and start.closed_at == after  # frozen when first asked after
    assert start.counts[DIMS[0]] == (1, 2, 1, 1)
    assert start.counts[DIMS[8]] == (2, 2, 0, 1)
    assert (end.counts, end.closed_at, end.counted, end.answered) == (None, None, 0, 0)


def test_fewer_than_four_counted_answers_show_no_totals(factory, set_id, clock):
    with database.transaction(factory) as db:
        members = _members(db, set_id)
        service.set_closing_date(db, members[0].learning_set, "end", date(2027, 6, 10), NOW)
        for member in members[:3]:
            _rate(db, member, "end", 2)
    after = datetime(2027, 6, 11, tzinfo=UTC)
    clock(after)
    with database.transaction(factory) as db:
        end = service.published_totals(db, db.get(LearningSet, set_id), DIMS, now=after)["end"]
    assert (end.counted, end.counts, end.closed_at, end.answered) == (3, None, after, 3)


def test_a_closing_date_is_the_end_of_that_day_on_the_sets_clock_and_never_past(
    factory, set_id, clock
):
    with database.transaction(factory) as db:
        learning_set = db.get(LearningSet, set_id)
        winter = service.set_closing_date(db, learning_set, "end", date(2027, 12, 1), NOW)
        assert winter == datetime(2027, 12, 2, 0, 0, tzinfo=UTC)  # GMT: local midnight is UTC's
        today = NOW.astimezone(LONDON).date()
        assert service.set_closing_date(db, learning_set, "start", today, NOW) == datetime(
            2027, 6, 1, 23, 0, tzinfo=UTC
        )
        with pytest.raises(sets.SetError, match="cannot close in the past"):
            service.set_closing_date(db, learning_set, "start", today - timedelta(days=1), NOW)
        with pytest.raises(sets.SetError, match="^choose the start or the end of the programme$"):
            service.set_closing_date(db, learning_set, "middle", today, NOW)
    later = datetime(2027, 6, 2, 9, 0, tzinfo=UTC)
    with database.transaction(factory) as db:
        learning_set = db.get(LearningSet, set_id)
        with pytest.raises(sets.SetError, match="have closed and their totals are fixed"):
            service.set_closing_date(db, learning_set, "start", date(2027, 7, 1), later)
        # a phase still open can move its date
        moved = service.set_closing_date(db, learning_set, "end", date(2027, 7, 1), later)
        assert moved == datetime(2027, 7, 1, 23, 0, tzinfo=UTC)
    assert service.last_open_day(moved, LONDON) == date(2027, 7, 1)
    assert service.last_open_day(winter, LONDON) == date(2027, 12, 1)


def test_the_invitation_and_its_one_reminder_say_what_they_are(factory, set_id):
    url = "https://toolkit.example/self-assessment/abc"
    with factory() as db:
        member = _members(db, set_id)[0]
        first = service.link_letter(member, member.learning_set, url)
        nudge = service.link_letter(member, member.learning_set, url, nudge=True)
    assert first.subject == "Your leadership self-assessment: Set A"
    assert nudge.subject == "Reminder: your leadership self-assessment: Set A"
    for letter in (first, nudge):
        body = " ".join(letter.body.split())
        assert body.startswith("Dear Dr Member 0,")
        assert url in body and url in letter.html
        assert service.PRIVACY in body
        assert "your facilitator sees only the set's anonymous totals" in body
        assert "the old link then stops working" in body
    assert "This is your private link for the leadership self-assessment in Set A:" in first.body
    assert "A reminder: you have not yet answered" not in first.body
    assert "you have not yet answered the leadership self-assessment in Set A" in " ".join(
        nudge.body.split()
    )


def test_the_chart_draws_each_rating_as_a_bar_of_its_level(factory, set_id):
    ratings = {"start": {DIMS[0]: 2, DIMS[1]: 1}, "end": {DIMS[0]: 4}}
    svg = service.chart_svg(ratings, FRAMEWORKS)
    bars = re.findall(
        r'<rect x="(\d+)" y="(\d+)" width="(\d+)" [^>]*fill="(#\w+)"><title>([^<]+)', svg
    )
    assert len(bars) == 18  # start and end for each of the nine dimensions
    assert bars[0] == ("250", "24", "185", "#aecbe8", "start: 2")  # a level is 92.5 wide
    assert bars[1] == ("250", "35", "370", "#005eb8", "end: 4")
    assert bars[2] == ("250", "56", "92", "#aecbe8", "start: 1")  # the next dimension, lower
    assert bars[3] == ("250", "67", "0", "#005eb8", "end: not rated")
    assert all(b[2] == "0" and b[4].endswith("not rated") for b in bars[4:])
    names = re.findall(r'font-size="13">([^<]+)</text>', svg)
    assert names == [a.name for a in FRAMEWORKS.hlm.areas]
    levels = re.findall(r'<text x="(\d+)" y="14" font-size="11" text-anchor="end">(\w+)', svg)
    assert levels == [("342", "essential"), ("435", "proficient"), ("528", "strong")] + [
        ("620", "exemplary")
    ]
    assert 'viewBox="0 0 640 328"' in svg and 'height="328"' in svg


# --- survivors of the mutation run of 30 Nov 2026 ---------------------------------------------


def test_the_chart_is_well_formed_svg_with_each_name_beside_its_bars(factory, set_id):
    """A browser draws nothing from an SVG that is not well-formed XML (tags in capitals, junk
    after the root, separators between elements)."""
    svg = service.chart_svg({"start": {DIMS[0]: 2}, "end": {DIMS[0]: 3}}, FRAMEWORKS)
    root = ET.fromstring(svg)  # raises on junk or mismatched tags
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg" and svg.endswith("</svg>")
    # nothing stray between the elements
    assert root.text is None and all(e.tail is None for e in root.iter())
    title = root.find(f"{ns}title")
    assert title.text == "Your ratings at the start (light) and the end (dark)"
    assert title.get("id") == root.get("aria-labelledby") == "chart-title"
    rects = root.findall(f"{ns}rect")
    assert len(rects) == 18 and {r.get("height") for r in rects} == {"10"}  # 1 apart, 11 a row
    assert [r.find(f"{ns}title").text for r in rects[:2]] == ["start: 2", "end: 3"]
    names = [t for t in root.findall(f"{ns}text") if t.get("font-size") == "13"]
    # each name's baseline sits 4 below the first (start) bar's bottom edge of its row
    assert [int(t.get("y")) for t in names] == [39 + 32 * i for i in range(9)]
    assert [int(r.get("y")) for r in rects[::2]] == [24 + 32 * i for i in range(9)]


def test_the_invitation_says_every_part_in_full(factory, set_id):
    url = "https://toolkit.example/self-assessment/abc"
    with factory() as db:
        member = _members(db, set_id)[0]
        first = service.link_letter(member, member.learning_set, url)
        nudge = service.link_letter(member, member.learning_set, url, nudge=True)
    body = " ".join(first.body.split())
    assert (
        "Rate yourself on the nine dimensions of the Healthcare Leadership Model at the start of "
        "the programme, and again at the end, to see how you have changed. Your ratings are yours: "
        "your facilitator sees only the set's anonymous totals. " + service.PRIVACY + " You can "
        "delete your ratings at any time through the same link."
    ) in body
    assert (
        "Keep this link to yourself: anyone who has it can see and change your ratings. If "
        "someone else may have it, open it and choose to replace it: the old link then stops "
        "working."
    ) in body
    assert " ".join(nudge.body.split()).startswith(
        "Dear Dr Member 0, A reminder: you have not yet answered the leadership self-assessment "
        "in Set A. It takes about ten minutes. Your private link:"
    )


def test_deleting_after_answers_close_but_before_anyone_looked_keeps_them_in_the_totals(
    factory, set_id, clock
):
    with database.transaction(factory) as db:
        members = _members(db, set_id)
        service.set_closing_date(db, members[0].learning_set, "start", date(2027, 6, 10), NOW)
        for member in members[:4]:
            _rate(db, member, "start", 3)
    after = datetime(2027, 6, 11, 9, 0, tzinfo=UTC)
    clock(after)
    with database.transaction(factory) as db:  # the first thing after the close: a deletion
        assert service.delete_ratings(db, _members(db, set_id)[0], DIMS) == 9
    with database.transaction(factory) as db:
        start = service.published_totals(db, db.get(LearningSet, set_id), DIMS)["start"]
    assert (start.counted, start.counts[DIMS[0]], start.closed_at) == (4, (0, 0, 4, 0), after)
    assert start.answered == 3  # answered now; the frozen totals keep the deleted answers


def test_totals_are_judged_at_the_moment_asked_for_as_the_programme_report_does(
    factory, set_id, clock
):
    """`published_totals(now=…)`: a report for a moment after the close freezes the totals
    then, whatever the clock says."""
    with database.transaction(factory) as db:
        members = _members(db, set_id)
        service.set_closing_date(db, members[0].learning_set, "end", date(2027, 6, 10), NOW)
        for member in members[:4]:
            _rate(db, member, "end", 2)
    at = datetime(2027, 6, 12, 8, 0, tzinfo=UTC)
    with database.transaction(factory) as db:  # the clock still says 1 June
        totals = service.published_totals(db, db.get(LearningSet, set_id), DIMS, now=at)
    assert [t.phase for t in totals.values()] == ["start", "end"] == list(totals)
    assert (totals["end"].closed_at, totals["end"].counted) == (at, 4)
    assert totals["end"].counts[DIMS[0]] == (0, 4, 0, 0)
    assert totals["start"].closed_at is None


def test_exactly_four_counted_answers_show_the_totals(factory, set_id, clock):
    with database.transaction(factory) as db:
        members = _members(db, set_id)
        service.set_closing_date(db, members[0].learning_set, "start", date(2027, 6, 10), NOW)
        for member, level in zip(members[:4], [1, 2, 3, 4], strict=True):
            _rate(db, member, "start", level)
    after = datetime(2027, 6, 11, tzinfo=UTC)
    clock(after)
    with database.transaction(factory) as db:
        start = service.published_totals(db, db.get(LearningSet, set_id), DIMS)["start"]
    assert start.counted == service.MIN_ANSWERS == 4
    assert start.counts == dict.fromkeys(DIMS, (1, 1, 1, 1))


def test_closing_one_phase_leaves_the_other_and_other_sets_open(factory, set_id, clock):
    with database.transaction(factory) as db:
        learning_set = db.get(LearningSet, set_id)
        other = sets.create_set(db, learning_set.facilitators[0], "set-b", "Set B")
        end = service.set_closing_date(db, learning_set, "end", date(2027, 12, 1), NOW)
        elsewhere = service.set_closing_date(db, other, "start", date(2027, 12, 1), NOW)
        service.set_closing_date(db, learning_set, "start", date(2027, 6, 10), NOW)
        for member in _members(db, set_id)[:4]:
            _rate(db, member, "start", 2)
            _rate(db, member, "end", 3)
        other_id = other.id
    after = datetime(2027, 6, 11, tzinfo=UTC)
    clock(after)
    with database.transaction(factory) as db:
        totals = service.published_totals(db, db.get(LearningSet, set_id), DIMS)
        theirs = service.published_totals(db, db.get(LearningSet, other_id), DIMS)
    assert totals["start"].closed_at == after
    # counted from the start answers alone, not the end answers too
    assert totals["start"].counts[DIMS[0]] == (0, 4, 0, 0)
    assert (totals["end"].closed_at, totals["end"].closes_at, totals["end"].counts) == (
        None,
        end,
        None,
    )
    assert (theirs["start"].closed_at, theirs["start"].closes_at) == (None, elsewhere)


def test_a_second_freezer_arriving_late_changes_nothing(factory, set_id, clock):
    """Two requests may both find a phase open and freeze it; the one that comes second (here:
    a later moment, after another answer) leaves the first one's totals as they are."""
    with database.transaction(factory) as db:
        service.set_closing_date(db, db.get(LearningSet, set_id), "start", date(2027, 6, 10), NOW)
        for member in _members(db, set_id)[:4]:
            _rate(db, member, "start", 2)
    first = datetime(2027, 6, 11, tzinfo=UTC)
    with database.transaction(factory) as db:
        service.published_totals(db, db.get(LearningSet, set_id), DIMS, now=first)
    with database.transaction(factory) as db:
        learning_set = db.get(LearningSet, set_id)
        row = service.phase_row(db, learning_set, "start")
        service._freeze(db, row, learning_set, DIMS[:3], first + timedelta(days=1))
    with database.transaction(factory) as db:
        start = service.published_totals(db, db.get(LearningSet, set_id), DIMS)["start"]
    assert start.closed_at == first and set(start.counts) == set(DIMS)


def test_stored_ratings_outside_the_form_are_left_out_of_the_totals(factory, set_id, clock):
    """A dimension the framework no longer has, or a level outside 1 to 4 (a restored backup
    edited by hand), is not counted, and does not stop the totals being shown."""
    with database.transaction(factory) as db:
        members = _members(db, set_id)
        service.set_closing_date(db, members[0].learning_set, "start", date(2027, 6, 10), NOW)
        for member in members[:4]:
            _rate(db, member, "start", 2)
        db.add(SelfRating(member_id=members[0].id, phase="start", dimension="retired", level=3))
        row = next(r for r in service._rows(db, members[1]) if r.dimension == DIMS[0])
        row.level = 5
    clock(datetime(2027, 6, 11, tzinfo=UTC))
    with database.transaction(factory) as db:
        start = service.published_totals(db, db.get(LearningSet, set_id), DIMS)["start"]
    assert set(start.counts) == set(DIMS)
    assert start.counts[DIMS[0]] == (0, 3, 0, 0) and start.counts[DIMS[1]] == (0, 4, 0, 0)


@contextmanager
def _machine_zone(name: str):
    """The machine's own time zone (what `astimezone()` with no zone uses) set to `name`."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = name
    clocks.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        clocks.tzset()


def test_the_last_open_day_is_on_the_sets_clock_not_the_machines():
    """A set in New York closing at the end of 10 June, read on a machine in London (where it is
    already 11 June)."""
    closes = datetime.combine(date(2027, 6, 11), time(0), tzinfo=ZoneInfo("America/New_York"))
    with _machine_zone("Europe/London"):
        day = service.last_open_day(closes.astimezone(UTC), ZoneInfo("America/New_York"))
    assert day == date(2027, 6, 10)


def test_answers_close_at_the_closing_instant_itself(factory, set_id, clock):
    with database.transaction(factory) as db:
        members = _members(db, set_id)
        closes = service.set_closing_date(
            db, members[0].learning_set, "start", date(2027, 6, 10), NOW
        )
        for member in members[:4]:
            _rate(db, member, "start", 1)
    with database.transaction(factory) as db:
        start = service.published_totals(db, db.get(LearningSet, set_id), DIMS, now=closes)
    assert (start["start"].closed_at, start["start"].counted) == (closes, 4)


def test_today_is_the_sets_today_whatever_the_machines_zone(factory, set_id):
    """At 12:00 UTC on 1 June it is already 2 June in Auckland, where the machine is; the set is
    in London, where it is still 1 June, so 1 June is allowed and 31 May is not."""
    with _machine_zone("Pacific/Auckland"), database.transaction(factory) as db:
        learning_set = db.get(LearningSet, set_id)
        closes = service.set_closing_date(db, learning_set, "start", date(2027, 6, 1), NOW)
        with pytest.raises(
            sets.SetError,
            match=r"^Choose today or a later date: answers cannot close in the past$",
        ):
            service.set_closing_date(db, learning_set, "end", date(2027, 5, 31), NOW)
    assert closes == datetime(2027, 6, 1, 23, 0, tzinfo=UTC)


def test_a_closed_phase_says_why_its_date_cannot_move(factory, set_id):
    with database.transaction(factory) as db:
        learning_set = db.get(LearningSet, set_id)
        service.set_closing_date(db, learning_set, "start", date(2027, 6, 1), NOW)
        with pytest.raises(
            sets.SetError, match=r"^Answers for this point have closed and their totals are fixed$"
        ):
            service.set_closing_date(
                db, learning_set, "start", date(2027, 7, 1), NOW + timedelta(days=1)
            )
