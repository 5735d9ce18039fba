"""Sets: what the mutation run of `toolkit/sets/` found no test for. Short ids made from titles,
the words a session's change history uses, and ground rules kept one per line."""

from __future__ import annotations

from datetime import date, time

import pytest

from toolkit import db as database
from toolkit import limits, sets
from toolkit.accounts import create_user
from toolkit.config import Settings
from toolkit.models import LearningSet, MeetingChange, SentInvite
from toolkit.planning import local_start

from .test_sets import TEMPLATE


@pytest.fixture
def factory(env: Settings):
    return database.session_factory(database.make_engine(env.database_url))


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Thames Valley FY set B", "thames-valley-fy-set-b"),
        ("  Zoë's set — Ärzte & Ça va  ", "zoe-s-set-arzte-ca-va"),
        ("ST3+ / CT1: Set 7!", "st3-ct1-set-7"),
        ("!!! ¿ ???", "learning-set"),  # nothing left: a name that still works
        ("", "learning-set"),
    ],
)
def test_a_short_id_is_made_from_a_title(title, slug):
    assert sets.slug_for(title) == slug


def test_a_long_title_is_cut_to_the_limit_without_a_trailing_hyphen():
    cut_on_a_space = "a" * (limits.SLUG - 1) + " bcd"  # the cut lands on the hyphen
    assert sets.slug_for(cut_on_a_space) == "a" * (limits.SLUG - 1)
    exactly = "b" * limits.SLUG + "cdef"
    assert sets.slug_for(exactly) == "b" * limits.SLUG


def test_a_taken_short_id_gets_the_next_free_number(factory):
    with database.transaction(factory) as db:
        owner = create_user(db, "fac@example.org", None, "Dr Facilitator")
        assert sets.free_slug(db, "Set A") == "set-a"
        sets.create_set(db, owner, "set-ab", "Set AB")  # starts with set-a, is not it
        assert sets.free_slug(db, "Set A") == "set-a"
        sets.create_set(db, owner, "set-a", "Set A")
        assert sets.free_slug(db, "Set A") == "set-a-2"
        sets.create_set(db, owner, "set-a-2", "Set A again")
        sets.create_set(db, owner, "set-a-3", "Set A once more")
        assert sets.free_slug(db, "Set A") == "set-a-4"
        made = sets.create_set(db, owner, "", "Set A")  # no short id given: made, and free
        assert made.slug == "set-a-4"
        cut_on_a_hyphen = "a" * (limits.SLUG - 3) + " " + "b" * 10
        sets.create_set(db, owner, sets.free_slug(db, cut_on_a_hyphen), "long")
        assert sets.free_slug(db, cut_on_a_hyphen) == "a" * (limits.SLUG - 3) + "-2"


def test_a_numbered_short_id_stays_within_the_limit(factory):
    long_title = "x" * (limits.SLUG + 10)
    with database.transaction(factory) as db:
        owner = create_user(db, "fac@example.org", None, "Dr Facilitator")
        base = sets.free_slug(db, long_title)
        assert base == "x" * limits.SLUG
        sets.create_set(db, owner, base, "first")
        second = sets.free_slug(db, long_title)
        assert second == "x" * (limits.SLUG - 2) + "-2" and len(second) == limits.SLUG
        for n in range(2, 10):
            sets.create_set(db, owner, sets.free_slug(db, long_title), f"copy {n}")
        tenth = sets.free_slug(db, long_title)
        assert tenth == "x" * (limits.SLUG - 3) + "-10" and len(tenth) == limits.SLUG


def test_each_kind_of_change_is_told_in_its_own_words(factory):
    with database.transaction(factory) as db:
        owner = create_user(db, "fac@example.org", None, "Dr Facilitator")
        learning_set = sets.create_set(db, owner, "set-a", "Set A", time_zone="Europe/London")
        start = local_start(date(2027, 1, 14), time(14, 0), "Europe/London")
        sets.add_series(db, learning_set, start, 1, 1, TEMPLATE)
        meeting = learning_set.meetings[0]

        def told(field: str, old: str, new: str) -> str:
            return sets.describe_change(meeting, MeetingChange(field=field, old=old, new=new))

        assert told("start", "2027-01-14T14:00:00+00:00", "2027-07-21T14:00:00+00:00") == (
            "Start moved from Thu 14 Jan 2027, 14:00 to Wed 21 Jul 2027, 15:00"  # BST in July
        )
        assert told("minutes", "180", "195") == "Length changed from 180 to 195 minutes"
        assert told("status", "scheduled", "cancelled") == (
            "Status changed from scheduled to cancelled"
        )
        assert told("venue", "", "Room 2") == "Venue changed from “none” to “Room 2”"
        assert told("video_url", "https://a.example", "") == (
            "Video link changed from “https://a.example” to “none”"
        )
        assert told("title", "Old", "New") == "title changed from “Old” to “New”"


def test_ground_rules_keep_one_rule_per_line_and_drop_blank_ones(factory):
    with database.transaction(factory) as db:
        owner = create_user(db, "fac@example.org", None, "Dr Facilitator")
        learning_set = sets.create_set(db, owner, "set-a", "Set A")
        version = learning_set.version
        sets.set_ground_rules(db, learning_set, "  Be on time \n\n\t\nListen well\r\n  ")
        assert learning_set.ground_rules == "Be on time\nListen well"
        assert learning_set.version == version + 1  # other open forms see the change
    with factory() as db:
        assert db.query(LearningSet).one().ground_rules == "Be on time\nListen well"
        sets.set_ground_rules(db, db.query(LearningSet).one(), "")  # none at all
        assert db.query(LearningSet).one().ground_rules == ""
        with pytest.raises(sets.SetError, match="^the ground rules is "):
            sets.set_ground_rules(db, db.query(LearningSet).one(), "x" * (limits.GROUND_RULES + 1))


@pytest.fixture
def three_sessions(factory) -> int:
    """Set A with a member and three action-learning sessions (presenter rounds in each)."""
    with database.transaction(factory) as db:
        owner = create_user(db, "fac@example.org", None, "Dr Facilitator")
        learning_set = sets.create_set(db, owner, "set-a", "Set A")
        sets.add_member(db, learning_set, "Zoë Marsh", "zoe@example.nhs.uk", "FY2")
        start = local_start(date(2027, 2, 11), time(14, 0), "Europe/London")
        sets.add_series(db, learning_set, start, 6, 3, TEMPLATE)
        return learning_set.id


def test_a_member_s_name_and_grade_are_corrected_within_their_limits(factory, three_sessions):
    with database.transaction(factory) as db:
        learning_set = db.get(LearningSet, three_sessions)
        [member] = learning_set.members
        version = learning_set.version
        sets.update_member(db, member, "  Zoë\nMarsh-Jones ", " FY2\n")
        assert (member.name, member.grade) == ("Zoë Marsh-Jones", "FY2")
        db.flush()
        assert learning_set.version == version + 1
        sets.update_member(db, member, "Zoë", "")  # a grade may be taken away
        assert member.grade == ""
        for name in ("", "   ", "\n"):
            with pytest.raises(sets.SetError, match="^enter the member's name$"):
                sets.update_member(db, member, name, "FY1")
        with pytest.raises(sets.SetError, match=f"name is {limits.NAME + 1} characters"):
            sets.update_member(db, member, "n" * (limits.NAME + 1), "FY1")
        sets.update_member(db, member, "n" * limits.NAME, "g" * limits.GRADE)  # at the limits
        with pytest.raises(sets.SetError, match=f"grade is {limits.GRADE + 1} characters"):
            sets.update_member(db, member, "Zoë", "g" * (limits.GRADE + 1))


def _order(meeting) -> list[str]:
    return [b.title for b in sorted(meeting.blocks, key=lambda b: b.position)]


def test_a_block_moves_one_place_and_not_past_either_end(factory, three_sessions):
    with database.transaction(factory) as db:
        meeting = sets.meetings_in_order(db.get(LearningSet, three_sessions))[0]
        before = _order(meeting)
        first, second = sorted(meeting.blocks, key=lambda b: b.position)[:2]
        version = meeting.version
        sets.move_block(db, meeting, second.id, -1)
        assert _order(meeting) == [before[1], before[0], *before[2:]]
        db.flush()
        assert meeting.version == version + 1
        sets.move_block(db, meeting, second.id, -1)  # already first: nothing moves
        sets.move_block(db, meeting, first.id, +1)  # back down one: as it was, less nothing
        assert _order(meeting) == [before[1], before[2], before[0], *before[3:]]
        last = sorted(meeting.blocks, key=lambda b: b.position)[-1]
        sets.move_block(db, meeting, last.id, +1)  # already last
        assert _order(meeting)[-1] == last.title
        other = sets.meetings_in_order(db.get(LearningSet, three_sessions))[1].blocks[0]
        with pytest.raises(sets.SetError, match="^that block is not on this agenda$"):
            sets.move_block(db, meeting, other.id, -1)


def _sent(db, meeting, member, method: str, *, delivered=False, claim=None, kind="invite"):
    db.add(
        SentInvite(
            meeting_id=meeting.id,
            member_id=member.id if member else None,
            email=member.email if member else "copy@example.org",
            kind=kind,
            method=method,
            sequence=0,
            transport="outbox",
            delivered=delivered,
            claim=claim,
        )
    )
    db.flush()


def test_who_holds_an_invitation_is_told_by_their_last_delivered_or_claimed_invite(
    factory, three_sessions
):
    with database.transaction(factory) as db:
        learning_set = db.get(LearningSet, three_sessions)
        first, second, _ = sets.meetings_in_order(learning_set)
        zoe = learning_set.members[0]
        ali = sets.add_member(db, learning_set, "Ali Khan", "ali@example.nhs.uk")
        bea = sets.add_member(db, learning_set, "Bea Cole", "bea@example.nhs.uk")
        cai = sets.add_member(db, learning_set, "Cai Dee", "cai@example.nhs.uk")
        assert sets.invited_members(db, first) == set()
        _sent(db, first, zoe, "REQUEST", delivered=True)
        _sent(db, first, ali, "REQUEST", claim="being-sent-now")  # not delivered yet: counts
        _sent(db, first, bea, "REQUEST")  # neither delivered nor claimed: a failed row
        _sent(db, first, cai, "REQUEST", delivered=True)
        _sent(db, first, cai, "CANCEL", delivered=True)  # the last word: cancelled
        _sent(db, first, None, "REQUEST", delivered=True)  # no member: a copy
        _sent(db, first, bea, "", delivered=True, kind="reminder")  # not an invitation
        _sent(db, second, bea, "REQUEST", delivered=True)  # another session's
        assert sets.invited_members(db, first) == {zoe.id, ali.id}
        _sent(db, first, cai, "REQUEST", delivered=True)  # invited again after the cancel
        assert sets.invited_members(db, first) == {zoe.id, ali.id, cai.id}
        assert sets.cancellations_on_delete(db, first, now=first.starts_at) == 3
        assert sets.cancellations_on_delete(db, first, now=sets.end_time(first)) == 0


def test_an_action_is_closed_dropped_or_reopened_with_its_outcome(factory, three_sessions):
    with database.transaction(factory) as db:
        learning_set = db.get(LearningSet, three_sessions)
        first = sets.meetings_in_order(learning_set)[0]
        member = learning_set.members[0]
        action = sets.add_action(db, first, member.id, "Ask one open question")
        version = learning_set.version
        sets.update_action(db, action, "done", "  Asked on every ward round.  ")
        assert (action.status, action.outcome) == ("done", "Asked on every ward round.")
        db.flush()
        assert learning_set.version == version + 1
        sets.update_action(db, action, "open")
        assert (action.status, action.outcome) == ("open", "")
        with pytest.raises(sets.SetError, match="^status must be one of open, done, dropped$"):
            sets.update_action(db, action, "closed")
        too_long = f"^the outcome is {limits.OUTCOME + 1} characters long; the limit is "
        with pytest.raises(sets.SetError, match=too_long):
            sets.update_action(db, action, "dropped", "x" * (limits.OUTCOME + 1))


def test_moving_a_presenter_round_re_proposes_the_rota_by_position(factory, three_sessions):
    with database.transaction(factory) as db:
        learning_set = db.get(LearningSet, three_sessions)
        sets.add_member(db, learning_set, "Ali Khan", "ali@example.nhs.uk")
        sets.add_member(db, learning_set, "Bea Cole", "bea@example.nhs.uk")
        sets.refresh_rota(db, learning_set)
        meeting = sets.meetings_in_order(learning_set)[0]

        def rounds() -> list:
            ordered = sorted(meeting.blocks, key=lambda b: b.position)
            return [b for b in ordered if b.kind == "presenter"]

        before = [b.presenter_id for b in rounds()]
        assert len(set(before)) == 3
        sets.move_block(db, meeting, rounds()[1].id, -1)  # round 2 above round 1
        assert [b.presenter_id for b in rounds()] == before  # proposed again, by position
