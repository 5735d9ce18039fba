"""Sets: what the mutation run of `toolkit/sets/` found no test for. Short ids made from titles,
the words a session's change history uses, ground rules kept one per line; then cases in parts,
deleting, cancelling and changing sessions, a member's data removed, apologies and attendance,
blocks, presenters, pasted member lists, programme leads' sets, actions and suggested prompts."""

from __future__ import annotations

from dataclasses import astuple, replace
from datetime import date, time, timedelta

import pytest
from sqlalchemy import select

from toolkit import db as database
from toolkit import limits, sets
from toolkit.accounts import create_user
from toolkit.casebank import load_bank
from toolkit.config import REPO_ROOT, Settings
from toolkit.models import LearningSet, MeetingChange, SentInvite
from toolkit.planning import local_start
from toolkit.programmes.records import create_programme
from toolkit.session_templates import load_session_templates
from toolkit.sets.member_list import read_member_list

from .conftest import DATA
from .test_sets import TEMPLATE

TEMPLATES = load_session_templates(REPO_ROOT / "session_templates")


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


# --- the second look at the run's survivors: cases in parts, deleting and cancelling sessions,
# --- changing a session, removing a member's data, apologies, attendance, blocks and presenters

SERIES_BANK = DATA / "series_casebank"
PART = "the-long-winter-part-{}"


def _cases(meeting) -> list[str]:
    return [c.case_id for c in sorted(meeting.cases, key=lambda c: c.position)]


def test_part_one_of_a_case_puts_each_later_part_on_the_next_session_that_will_be_held(factory):
    bank = load_bank(SERIES_BANK)
    with database.transaction(factory) as db:
        owner = create_user(db, "fac@example.org", None, "Dr Facilitator")
        learning_set = sets.create_set(db, owner, "set-a", "Set A")
        zoe = sets.add_member(db, learning_set, "Zoë Marsh", "zoe@example.nhs.uk")
        start = local_start(date(2027, 2, 11), time(14, 0), "Europe/London")
        s1, s2, s3, s4, s5, s6, s7 = sets.add_series(db, learning_set, start, 1, 7, TEMPLATE)
        sets.set_status(db, s3, "cancelled")
        _sent(db, s4, zoe, "REQUEST", delivered=True)  # invited, so deleting only hides it
        assert sets.delete_meeting(db, s4, now=start) is True
        assert s4.deleted_at is not None
        # part 1 on session 2: parts 2 and 3 skip the cancelled and the deleted session
        assert sets.later_parts(s2, bank, PART.format(1)) == [
            (s5, bank.cases[PART.format(2)]),
            (s6, bank.cases[PART.format(3)]),
        ]
        pairs = sets.attach_with_parts(db, s2, bank, PART.format(1))
        assert [(m.key, c.id) for m, c in pairs] == [
            (s5.key, PART.format(2)),
            (s6.key, PART.format(3)),
        ]
        assert [_cases(m) for m in (s1, s2, s3, s5, s6, s7)] == [
            [],
            [PART.format(1)],
            [],
            [PART.format(2)],
            [PART.format(3)],
            [],  # one session more than the parts need: left alone
        ]
        assert any(b.title == "Case: The long winter, part 3" for b in s6.blocks)
        # a later part, or no case at all, brings nothing with it
        assert sets.later_parts(s1, bank, PART.format(2)) == []
        assert sets.later_parts(s1, bank, "no-such-case") == []
        assert sets.attach_with_parts(db, s1, bank, PART.format(2)) == []
        assert sets.attach_with_parts(db, s1, bank) == []
        assert _cases(s1) == [PART.format(2)] and _cases(s7) == []


def test_part_one_with_too_few_sessions_left_is_refused_saying_how_many_to_add(factory):
    bank = load_bank(SERIES_BANK)
    with database.transaction(factory) as db:
        owner = create_user(db, "fac@example.org", None, "Dr Facilitator")
        learning_set = sets.create_set(db, owner, "set-a", "Set A")
        start = local_start(date(2027, 2, 11), time(14, 0), "Europe/London")
        s1, s2, s3 = sets.add_series(db, learning_set, start, 1, 3, TEMPLATE)
        for meeting, missing in ((s2, 1), (s3, 2)):
            with pytest.raises(sets.SetError) as refused:
                sets.attach_with_parts(db, meeting, bank, PART.format(1))
            assert str(refused.value) == (
                f"'The long winter, part 1' is part 1 of 3, one part per session: add {missing} "
                "more session(s) after this one, then attach it again"
            )
        assert [_cases(m) for m in (s1, s2, s3)] == [[], [], []]


def _members(db, learning_set, *names: str):
    return [
        sets.add_member(db, learning_set, name, f"{name.lower()}@example.nhs.uk") for name in names
    ]


@pytest.fixture
def weekly(factory) -> int:
    """Set A with three members and three weekly sessions from Thu 11 Feb 2027, 14:00."""
    with database.transaction(factory) as db:
        owner = create_user(db, "fac@example.org", None, "Dr Facilitator")
        learning_set = sets.create_set(db, owner, "set-a", "Set A")
        _members(db, learning_set, "Zoe", "Ali", "Bea")
        start = local_start(date(2027, 2, 11), time(14, 0), "Europe/London")
        sets.add_series(db, learning_set, start, 1, 3, TEMPLATE)
        return learning_set.id


def _weekly(db, set_id: int):
    learning_set = db.get(LearningSet, set_id)
    return learning_set, sets.meetings_in_order(learning_set)


def test_deleting_a_session_members_hold_hides_it_as_cancelled_and_frees_its_key(factory, weekly):
    with database.transaction(factory) as db:
        learning_set, (first, second, _) = _weekly(db, weekly)
        zoe = learning_set.members[0]
        _sent(db, second, zoe, "REQUEST", delivered=True)
        second.sequence = 4
        now = first.starts_at
        assert sets.delete_meeting(db, second, now=now) is True
        assert (second.status, second.deleted_at, second.sequence) == ("cancelled", now, 5)
        assert second.key == f"deleted-{second.uid}"
        change = second.changes[-1]
        assert (change.field, change.old, change.new) == ("status", "scheduled", "deleted")
        assert sets.delete_meeting(db, second, now=now) is True  # deleted already: still owed
        assert (second.sequence, len(second.changes)) == (5, len(second.changes))
        # a session that has ended goes at once, invitation or not: nobody needs a CANCEL
        _sent(db, first, zoe, "REQUEST", delivered=True)
        assert sets.delete_meeting(db, first, now=sets.end_time(first)) is False
    with factory() as db:
        keys = [m.key for m in db.get(LearningSet, weekly).meetings]
        assert "session-1" not in keys and "session-2" not in keys


def test_cancelling_and_restoring_a_session_is_recorded_once_with_its_reason(factory, weekly):
    with database.transaction(factory) as db:
        _, (meeting, _, _) = _weekly(db, weekly)
        meeting.sequence = 2
        assert sets.set_status(db, meeting, "cancelled", "  Strike day  ") is True
        assert (meeting.status, meeting.cancel_reason, meeting.sequence) == (
            "cancelled",
            "Strike day",
            3,
        )
        change = meeting.changes[-1]
        assert (change.field, change.old, change.new) == ("status", "scheduled", "cancelled")
        assert sets.set_status(db, meeting, "cancelled", "Strike day") is False  # no change
        assert (meeting.sequence, len(meeting.changes)) == (3, 1)
        assert sets.set_status(db, meeting, "scheduled", "ignored when restoring") is True
        assert (meeting.status, meeting.cancel_reason, meeting.sequence) == ("scheduled", "", 4)
        sets.set_status(db, meeting, "cancelled")  # no reason given: none stored
        assert meeting.cancel_reason == ""
        with pytest.raises(sets.SetError, match="^unknown status 'held'$"):
            sets.set_status(db, meeting, "held")
        too_long = "x" * (limits.CANCEL_REASON + 1)
        with pytest.raises(sets.SetError, match="^the reason for cancelling is "):
            sets.set_status(db, meeting, "cancelled", too_long)


def test_changing_a_session_records_each_field_by_name_and_counts_the_sequence(factory, weekly):
    with database.transaction(factory) as db:
        _, (meeting, _, _) = _weekly(db, weekly)
        meeting.sequence = 2
        assert sets.change_meeting(db, meeting, minutes=200, video_url="https://v.example/a")
        assert [(c.field, c.new) for c in meeting.changes] == [
            ("minutes", "200"),
            ("video_url", "https://v.example/a"),
        ]
        assert meeting.sequence == 3
        assert sets.change_meeting(db, meeting, title="  Renamed\nsession ") is False  # no SEQUENCE
        assert meeting.title == "Renamed session"
        sets.change_meeting(db, meeting, venue="Room 2")
        assert meeting.title == "Renamed session"  # not given: kept
        with pytest.raises(sets.SetError, match="^the title is "):
            sets.change_meeting(db, meeting, title="t" * (limits.TITLE + 1))


def test_a_held_session_moves_only_to_a_time_that_has_come(factory, weekly):
    with database.transaction(factory) as db:
        learning_set, (first, second, _) = _weekly(db, weekly)
        zoe, ali, _ = learning_set.members
        now = first.starts_at + timedelta(hours=1)
        sets.record_attendance(db, first, {zoe.id: "present"}, now=now)
        with pytest.raises(sets.SetError) as refused:
            sets.change_meeting(db, first, start=now + timedelta(minutes=1), now=now)
        assert str(refused.value) == (
            "Attendance has been recorded for this session, so it cannot move to a time that "
            "has not come yet. Add a new session instead."
        )
        assert sets.change_meeting(db, first, start=now, now=now)  # now itself has come
        # apologies alone are not a session held: it still moves into the future
        sets.record_apologies(db, second, {ali.id}, now=now)
        later = second.starts_at + timedelta(hours=2)
        assert sets.change_meeting(db, second, start=later, now=now)
        assert second.starts_at == later


def _presenters(learning_set) -> list[list[int | None]]:
    return [
        [b.presenter_id for b in sets.presenter_rounds(m)]
        for m in sets.meetings_in_order(learning_set)
    ]


def test_moving_a_session_before_the_others_proposes_the_rota_again_from_there(factory, weekly):
    with database.transaction(factory) as db:
        learning_set, (first, _, third) = _weekly(db, weekly)
        sets.add_member(db, learning_set, "Cai", "cai@example.nhs.uk")
        sets.refresh_rota(db, learning_set)
        before = _presenters(learning_set)
        sets.change_meeting(db, third, start=first.starts_at - timedelta(days=7))
        after = _presenters(learning_set)
        assert after != [before[2], before[0], before[1]]  # not just carried along
        assert sets.refresh_rota(db, learning_set) == []  # already as the rota proposes


def test_the_next_session_is_the_first_not_yet_started_at_the_moment_asked(factory, weekly):
    with database.transaction(factory) as db:
        learning_set, (first, second, third) = _weekly(db, weekly)
        assert sets.upcoming_meetings(learning_set, now=second.starts_at) == [second, third]
        assert sets.next_meeting(learning_set, now=second.starts_at) is second
        assert sets.next_meeting(learning_set, now=third.starts_at + timedelta(minutes=1)) is None


def test_deleting_a_member_leaves_their_presence_as_a_count_and_nothing_that_names_them(
    factory, weekly
):
    with database.transaction(factory) as db:
        learning_set, (first, second, _) = _weekly(db, weekly)
        zoe, ali, bea = learning_set.members
        now = second.starts_at + timedelta(hours=1)
        sets.record_attendance(db, first, {zoe.id: "present", ali.id: "present"}, now=now)
        sets.record_attendance(db, second, {zoe.id: "apologies", ali.id: "present"}, now=now)
        first.anonymous_present = 2
        _sent(db, first, zoe, "REQUEST", delivered=True)
        _sent(db, first, ali, "REQUEST", delivered=True)
        sets.add_action(db, first, zoe.id, "Zoe's action")
        sets.add_action(db, first, ali.id, "Ali's action")
        zoe_id, ali_id = zoe.id, ali.id
        sets.delete_member(db, zoe)
        assert (first.anonymous_present, second.anonymous_present) == (3, 0)
        rows = db.scalars(select(SentInvite).order_by(SentInvite.id)).all()
        assert [(r.email, r.member_id) for r in rows] == [
            ("", None),
            ("ali@example.nhs.uk", ali_id),
        ]
        actions = {a.text: a.member_id for a in sets.actions_for(db, learning_set)}
        assert actions == {"Zoe's action": None, "Ali's action": ali_id}
        assert zoe_id not in {m.id for m in learning_set.members}


def test_apologies_are_sent_before_the_session_by_members_only_and_may_come_from_all(
    factory, weekly
):
    with database.transaction(factory) as db:
        learning_set, (first, _, _) = _weekly(db, weekly)
        everyone = {m.id for m in learning_set.members}
        before = first.starts_at - timedelta(days=1)
        sets.record_apologies(db, first, everyone, now=before)
        assert {a.member_id: a.status for a in first.attendance} == dict.fromkeys(
            everyone, "apologies"
        )
        with pytest.raises(sets.SetError, match="^apologies must come from members of this set$"):
            sets.record_apologies(db, first, {max(everyone) + 100}, now=before)
        with pytest.raises(
            sets.SetError, match="^The session has started: record attendance instead$"
        ):
            sets.record_apologies(db, first, set(), now=first.starts_at)


def test_attendance_is_for_members_of_the_set_in_one_of_three_words(factory, weekly):
    with database.transaction(factory) as db:
        learning_set, (first, _, _) = _weekly(db, weekly)
        zoe = learning_set.members[0]
        now = first.starts_at
        refused = "^attendance must be present, apologies or absent for a member$"
        for statuses in ({zoe.id + 100: "present"}, {zoe.id: "late"}):
            with pytest.raises(sets.SetError, match=refused):
                sets.record_attendance(db, first, statuses, now=now)
        sets.mark_all_present(db, first, now=now)  # started at `now`, not by the machine's clock
        assert {a.status for a in first.attendance} == {"present"} and len(first.attendance) == 3


def test_a_block_is_renamed_and_retimed_within_its_limits(factory, weekly):
    with database.transaction(factory) as db:
        _, (first, second, _) = _weekly(db, weekly)
        block = sorted(first.blocks, key=lambda b: b.position)[0]
        for minutes in ("1", " 600 "):
            sets.update_block(db, first, block.id, "Arrivals", minutes)
            assert (block.title, block.minutes) == ("Arrivals", int(minutes))
        for minutes in ("0", "601", "ten", ""):
            with pytest.raises(
                sets.SetError, match="^minutes must be a whole number from 1 to 600$"
            ):
                sets.update_block(db, first, block.id, "Arrivals", minutes)
        with pytest.raises(sets.SetError, match="^a block needs a title$"):
            sets.update_block(db, first, block.id, " \n ", "10")
        with pytest.raises(sets.SetError, match="^the title is "):
            sets.update_block(db, first, block.id, "t" * (limits.TITLE + 1), "10")
        with pytest.raises(sets.SetError, match="^that block is not on this agenda$"):
            sets.update_block(db, first, second.blocks[0].id, "Arrivals", "10")


def test_presenters_set_by_hand_may_be_fewer_than_the_rounds_and_the_rota_takes_back(
    factory, weekly
):
    with database.transaction(factory) as db:
        learning_set, (first, _, _) = _weekly(db, weekly)
        zoe, ali, bea = learning_set.members
        proposed = [b.presenter_id for b in sets.presenter_rounds(first)]
        assert len(proposed) == 3
        sets.set_presenters(db, first, [bea.id])  # the first round only
        assert [b.presenter_id for b in sets.presenter_rounds(first)] == [bea.id, *proposed[1:]]
        assert first.presenters_by_hand
        with pytest.raises(sets.SetError, match="^presenters must be members of this set$"):
            sets.set_presenters(db, first, [bea.id + 100])
        sets.use_rota(db, first)
        assert not first.presenters_by_hand
        assert [b.presenter_id for b in sets.presenter_rounds(first)] == proposed


def test_each_refused_line_of_a_member_list_is_shown_as_pasted_with_its_reason():
    too_many_headings = "name, full name, email, e-mail, email address, e-mail address, grade"
    long_address = "x" * 90 + "@@example.org"
    at_name_limit, over_name = "n" * limits.NAME, "n" * (limits.NAME + 1)
    at_grade_limit, over_grade = "g" * limits.GRADE, "g" * (limits.GRADE + 1)
    lines = [
        too_many_headings,  # 1: every heading at once is still a heading row
        "Zoë Marsh; zoe@example.nhs.uk; FY2",  # 2: semicolons split a typed line
        "Ali Khan; FY1, ali@example.nhs.uk",  # 3: ...unless it has commas
        "Bea Cole\tbea@example.nhs.uk\tST3",  # 4: a spreadsheet row
        "Bea Cole\tbea@example.nhs.uk\tST3",  # 5: again
        "cai@example.nhs.uk",  # 6: no name
        "Dee, Dee Two, dee@example.nhs.uk, FY1",  # 7: too many parts
        f"Eve, {long_address}",  # 8: not an address
        f"{at_name_limit}, n@example.nhs.uk",  # 9
        f"{over_name}, o@example.nhs.uk",  # 10
        f"Gil, g@example.nhs.uk, {at_grade_limit}",  # 11
        f"Hal, h@example.nhs.uk, {over_grade}",  # 12
        "Old Member, old@example.nhs.uk",  # 13: already in the set
    ]
    found = read_member_list("\n".join(lines), ["OLD@example.nhs.uk"], 20)
    assert [(m.line, m.name, m.email, m.grade) for m in found.add] == [
        (2, "Zoë Marsh", "zoe@example.nhs.uk", "FY2"),
        (3, "Ali Khan; FY1", "ali@example.nhs.uk", ""),
        (4, "Bea Cole", "bea@example.nhs.uk", "ST3"),
        (9, at_name_limit, "n@example.nhs.uk", ""),
        (11, "Gil", "g@example.nhs.uk", at_grade_limit),
    ]

    def shown(text: str) -> str:
        return text if len(text) <= 120 else text[:119] + "…"

    assert [(r.line, r.text, r.reason) for r in found.refused] == [
        (1, too_many_headings, "This looks like a heading row, so it was skipped."),
        (
            5,
            "Bea Cole · bea@example.nhs.uk · ST3",
            "bea@example.nhs.uk is also on line 4; it is added once.",
        ),
        (6, "cai@example.nhs.uk", "This line has no name; put the name before the e-mail."),
        (7, lines[6], "This line has too many parts; give name, e-mail and grade only."),
        (8, lines[7], f"The e-mail address “{long_address[:80]}” is not valid."),
        (10, shown(lines[9]), f"The name is longer than {limits.NAME} characters."),
        (12, shown(lines[11]), f"The grade is longer than {limits.GRADE} characters."),
        (13, lines[12], "old@example.nhs.uk is already a member of this set."),
    ]


def test_a_refused_line_of_exactly_120_characters_is_shown_whole():
    line_120 = "Name Only " + "y" * 110
    assert len(line_120) == 120
    [refused] = read_member_list(line_120, [], 10).refused
    assert refused.text == line_120
    [cut] = read_member_list(line_120 + "z", [], 10).refused
    assert cut.text == line_120[:119] + "…"


def test_a_pasted_list_adds_its_good_lines_in_order_or_nobody_at_all(factory, three_sessions):
    with database.transaction(factory) as db:
        learning_set = db.get(LearningSet, three_sessions)
        added = sets.add_members(
            db,
            learning_set,
            "Name, Email, Grade\nAli Khan, ali@example.nhs.uk, FY1\n\n"
            "Zoë again, zoe@example.nhs.uk\nBea Cole <bea@example.nhs.uk>\n",
        )
        assert [(m.name, m.email, m.grade) for m in added] == [
            ("Ali Khan", "ali@example.nhs.uk", "FY1"),
            ("Bea Cole", "bea@example.nhs.uk", ""),
        ]
        assert [m.email for m in learning_set.members] == [
            "zoe@example.nhs.uk",
            "ali@example.nhs.uk",
            "bea@example.nhs.uk",
        ]
        with pytest.raises(sets.SetError) as refused:
            sets.add_members(db, learning_set, "Ali Khan, ali@example.nhs.uk\nno address here")
        assert str(refused.value) == (
            "Nobody on the list can be added; the preview says why for each line."
        )
        assert len(learning_set.members) == 3


def test_a_programme_lead_sees_the_sets_of_the_programmes_they_lead_and_no_others(factory):
    with database.transaction(factory) as db:
        owner = create_user(db, "fac@example.org", None, "Dr Facilitator")
        lead = create_user(db, "lead@example.org", None, "Dr Lead")
        other_lead = create_user(db, "other@example.org", None, "Dr Other")
        admin = create_user(db, "admin@example.org", None, "Admin", is_admin=True)
        led = create_programme(db, "kss-2027", "KSS 2027")
        other = create_programme(db, "wm-2027", "West Midlands 2027")
        led.leads.append(lead)
        other.leads.append(other_lead)
        b = sets.create_set(db, owner, "set-b", "Set B", programme="kss-2027")
        a = sets.create_set(db, owner, "set-a", "Set A", programme="kss-2027")
        c = sets.create_set(db, owner, "set-c", "Set C", programme="wm-2027")
        d = sets.create_set(db, owner, "set-d", "Set D")
        own = sets.create_set(db, lead, "set-e", "A set of their own")
        db.flush()
        assert sets.sets_for(db, lead) == [own, a, b]  # by title
        assert sets.sets_for(db, other_lead) == [c]
        assert sets.sets_for(db, admin) == [own, a, b, c, d]
        assert [sets.leads(lead, s) for s in (a, c, d)] == [True, False, False]
        assert [sets.leads(other_lead, s) for s in (a, c)] == [False, True]
        assert [sets.can_access(lead, s) for s in (a, c, d, own)] == [True, False, False, True]
        assert [sets.can_change(lead, s) for s in (a, own)] == [False, True]  # a lead only reads


def test_deleting_a_set_deletes_that_set_and_no_other(factory, three_sessions):
    with database.transaction(factory) as db:
        owner = db.get(LearningSet, three_sessions).facilitators[0]
        kept = sets.create_set(db, owner, "set-b", "Set B")
        sets.add_member(db, kept, "Ali Khan", "ali@example.nhs.uk")
        kept_id = kept.id
        sets.delete_set(db, db.get(LearningSet, three_sessions))
    with factory() as db:
        assert [s.id for s in db.scalars(select(LearningSet))] == [kept_id]
        assert [m.email for m in db.get(LearningSet, kept_id).members] == ["ali@example.nhs.uk"]


def test_a_pasted_list_adds_up_to_the_room_left_in_the_set(factory, three_sessions):
    with database.transaction(factory) as db:
        learning_set = db.get(LearningSet, three_sessions)  # one member already
        listed = "\n".join(f"Member {n}, m{n}@example.nhs.uk" for n in range(limits.MEMBERS))
        added = sets.add_members(db, learning_set, listed)
        assert len(added) == limits.MEMBERS - 1 == len(learning_set.members) - 1
        assert added[-1].email == f"m{limits.MEMBERS - 2}@example.nhs.uk"


BANK = load_bank(REPO_ROOT / "casebank")
CASE_A, CASE_B = sorted(BANK.cases)[:2]


def _case_titles(meeting) -> list[str]:
    ordered = sorted(meeting.blocks, key=lambda b: b.position)
    return [b.title for b in ordered if b.title.startswith("Case: ")]


def test_rebuilding_an_agenda_gives_attached_cases_their_blocks_back_in_their_order(
    factory, weekly
):
    title_a, title_b = (f"Case: {BANK.cases[c].title}" for c in (CASE_A, CASE_B))
    with database.transaction(factory) as db:
        _, (first, _, _) = _weekly(db, weekly)
        sets.attach(db, first, BANK, case_id=CASE_A)
        sets.attach(db, first, BANK, case_id=CASE_B)
        assert [(c.case_id, c.position) for c in first.cases] == [(CASE_A, 0), (CASE_B, 1)]
        sets.apply_template(db, first, TEMPLATE, bank=BANK)
        assert _case_titles(first) == [title_a, title_b]
        for row in first.cases:  # B first now
            row.position = 1 - row.position
        sets.apply_template(db, first, TEMPLATES["case-discussion"], bank=BANK)
        assert _case_titles(first) == [title_a]  # B, first by position, fills the case blocks


def test_a_case_is_attached_from_the_bank_up_to_the_cap_with_its_linked_block(factory, weekly):
    with database.transaction(factory) as db:
        _, (first, _, _) = _weekly(db, weekly)
        with pytest.raises(sets.SetError, match="^no case 'no-such-case' in the bank$"):
            sets.attach(db, first, BANK, case_id="no-such-case")
        block = sets.attach(db, first, BANK, case_id=CASE_A)
        case = BANK.cases[CASE_A]
        assert block.notes == (
            f"Work through '{case.title}' (case bank: {case.id}): the scenario and questions "
            "are in the handout, the facilitator notes in the facilitator pack."
        )
        assert sets.linked_case(block) == CASE_A
        other = sets.add_block(db, first, "Aside", "discussion", 5, notes=block.notes)
        assert sets.linked_case(other) is None  # only a case block links to its case
        for case_id in sorted(BANK.cases)[1 : limits.CASES]:
            sets.attach(db, first, BANK, case_id=case_id, with_block=False)
        assert len(first.cases) == limits.CASES
        with pytest.raises(sets.SetError) as refused:
            sets.attach(db, first, BANK, case_id=sorted(BANK.cases)[limits.CASES])
        assert str(refused.value) == (
            f"A learning set can have at most {limits.CASES} cases in a session; nothing was added."
        )


def test_a_case_block_s_title_is_cut_to_the_title_limit(factory, weekly):
    case = replace(BANK.cases[CASE_A], title="T" * 250)
    with database.transaction(factory) as db:
        _, (first, _, _) = _weekly(db, weekly)
        block = sets.add_case_block(db, first, case)
        assert block.title == ("Case: " + "T" * 250)[: limits.TITLE]


def test_a_block_added_by_hand_goes_last_with_its_notes_and_a_presenter_when_a_round(
    factory, weekly
):
    with database.transaction(factory) as db:
        _, (first, _, _) = _weekly(db, weekly)
        for block in list(first.blocks):
            sets.remove_block(db, first, block.id)
        aside = sets.add_block(db, first, "Aside", "discussion", 1)  # one minute is enough
        assert (aside.position, aside.notes, aside.handout) == (0, "", True)
        kept = sets.add_block(db, first, "Private", "discussion", 5, "  Only for us ", False)
        assert (kept.position, kept.notes, kept.handout) == (1, "Only for us", False)
        shared = sets.add_block(db, first, "Shared", "discussion", 5, "Say hello", True)
        assert (shared.notes, shared.handout) == ("Say hello", True)
        round_ = sets.add_block(db, first, "Presenter", "presenter", 20)
        assert round_.position == 3 and round_.presenter_id is not None  # the rota chose one
        with pytest.raises(sets.SetError, match="^a block needs at least 1 minute$"):
            sets.add_block(db, first, "None", "discussion", 0)
        with pytest.raises(sets.SetError, match="^the title is "):
            sets.add_block(db, first, "t" * (limits.TITLE + 1), "discussion", 5)
        with pytest.raises(sets.SetError, match="^the notes is "):
            sets.add_block(db, first, "Long", "discussion", 5, "n" * (limits.NOTES + 1))
        while len(first.blocks) < limits.BLOCKS:
            sets.add_block(db, first, "Filler", "discussion", 1)
        with pytest.raises(sets.SetError) as refused:
            sets.add_block(db, first, "One too many", "discussion", 1)
        assert str(refused.value) == (
            f"A learning set can have at most {limits.BLOCKS} agenda blocks in a session; "
            "nothing was added."
        )


def test_prompts_come_from_the_bank_up_to_the_cap(factory, weekly):
    with database.transaction(factory) as db:
        _, (first, _, _) = _weekly(db, weekly)
        with pytest.raises(sets.SetError, match="^no prompt 'no-such-prompt' in the bank$"):
            sets.attach(db, first, BANK, prompt_id="no-such-prompt")
        for prompt_id in sorted(BANK.prompts)[: limits.PROMPTS]:
            sets.attach(db, first, BANK, prompt_id=prompt_id)
        with pytest.raises(sets.SetError) as refused:
            sets.attach(db, first, BANK, prompt_id=sorted(BANK.prompts)[limits.PROMPTS])
        assert str(refused.value) == (
            f"A learning set can have at most {limits.PROMPTS} prompts in a session; "
            "nothing was added."
        )


def test_a_set_is_a_demo_until_a_facilitator_can_sign_in(factory):
    with database.transaction(factory) as db:
        nobody = create_user(db, "demo@example.org", None, "Demo")
        real = create_user(db, "real@example.org", "correct horse battery staple", "Dr Real")
        assert sets.is_demo(sets.create_set(db, nobody, "set-a", "Set A"))
        assert not sets.is_demo(sets.create_set(db, real, "set-b", "Set B"))


def test_a_set_of_four_to_eight_active_members_gets_no_size_warning(factory):
    with database.transaction(factory) as db:
        owner = create_user(db, "fac@example.org", None, "Dr Facilitator")
        learning_set = sets.create_set(db, owner, "set-a", "Set A")
        seen = {}
        for n in range(1, 10):
            sets.add_member(db, learning_set, f"Member {n}", f"m{n}@example.nhs.uk")
            seen[n] = sets.size_warning(learning_set)
        assert seen[3] == "This set has 3 member(s); learning sets usually work best with 4 to 8."
        assert [seen[n] for n in range(4, 9)] == [None] * 5
        assert seen[9] == "This set has 9 members; above 8, members get little airtime."


def test_an_action_keeps_what_was_said_and_is_refused_in_words(factory, weekly):
    with database.transaction(factory) as db:
        learning_set, (first, _, _) = _weekly(db, weekly)
        zoe = learning_set.members[0]
        plain = sets.add_action(db, first, zoe.id, "Ask one open question")
        assert (plain.meeting_id, plain.due, plain.support) == (first.id, "", "")
        full = sets.add_action(db, first, None, " Audit handover ", " By\nMarch ", " Ali helps ")
        assert (full.text, full.due, full.support) == ("Audit handover", "By March", "Ali helps")
        with pytest.raises(sets.SetError, match="^describe the action$"):
            sets.add_action(db, first, zoe.id, "  \n ")
        with pytest.raises(
            sets.SetError, match="^the action's owner must be a member of this set$"
        ):
            sets.add_action(db, first, zoe.id + 100, "Something")
        for fields, label in (
            (("a" * (limits.ACTION + 1), "", ""), "action"),
            (("Something", "d" * (limits.DUE + 1), ""), "'by when'"),
            (("Something", "", "s" * (limits.SUPPORT + 1)), "support"),
        ):
            with pytest.raises(sets.SetError, match=f"^the {label} is "):
                sets.add_action(db, first, zoe.id, *fields)


def test_an_action_is_reviewed_at_later_sessions_while_it_is_open(factory, weekly):
    with database.transaction(factory) as db:
        learning_set, (first, second, third) = _weekly(db, weekly)
        zoe = learning_set.members[0]
        early = sets.add_action(db, first, zoe.id, "From session 1")
        done = sets.add_action(db, first, zoe.id, "Done already")
        sets.update_action(db, done, "done")
        now = sets.add_action(db, second, zoe.id, "From session 2")
        assert sets.actions_to_review(db, first) == []
        assert sets.actions_to_review(db, second) == [early]  # not its own, not a done one
        assert sets.actions_to_review(db, third) == [early, now]


def test_an_agenda_s_planned_blocks_are_its_blocks_as_they_stand(factory, weekly):
    with database.transaction(factory) as db:
        _, (first, _, _) = _weekly(db, weekly)
        sets.add_block(db, first, "Private", "discussion", 5, "Only for us", False)
        blocks = sorted(first.blocks, key=lambda b: b.position)
        assert [astuple(p) for p in sets.planned_blocks(first)] == [
            (b.title, b.kind, b.minutes, b.notes, b.handout, b.presenter_id) for b in blocks
        ]
        assert any(p.presenter for p in sets.planned_blocks(first))


def test_prompts_suggested_suit_the_agenda_and_share_the_case_s_tags_first(factory, weekly):
    case = BANK.cases["the-stalled-sepsis-project"]
    domains = {t.split(".")[0] for t in case.tags.mlcf}

    def shared(prompt) -> int:
        return len(set(case.tags.hlm) & set(prompt.tags.hlm)) + len(
            domains & {t.split(".")[0] for t in prompt.tags.mlcf}
        )

    with database.transaction(factory) as db:
        _, (first, _, _) = _weekly(db, weekly)
        stages = set().union(
            *(sets.PROMPT_STAGES_FOR_KIND.get(b.kind, set()) for b in first.blocks)
        )
        plain = sets.suggest_prompts(first, BANK)
        assert len(plain) == 8 and all(p.stage in stages for p in plain)
        assert plain == sorted(plain, key=lambda p: (p.stage, p.id))  # no case: by stage and id
        sets.attach(db, first, BANK, case_id=case.id, prompt_id=plain[0].id)
        suggested = sets.suggest_prompts(first, BANK, limit=20)
        assert len(suggested) == 20 and plain[0] not in suggested
        stages = set().union(
            *(sets.PROMPT_STAGES_FOR_KIND.get(b.kind, set()) for b in first.blocks)
        )
        assert all(p.stage in stages for p in suggested)
        scores = [shared(p) for p in suggested]
        assert scores == sorted(scores, reverse=True) and scores[0] >= 2


def test_session_n_of_m_counts_only_the_sessions_that_will_happen(factory, weekly):
    with database.transaction(factory) as db:
        _, (first, second, third) = _weekly(db, weekly)
        assert [sets.session_of(m) for m in (first, second, third)] == [(1, 3), (2, 3), (3, 3)]
        sets.set_status(db, second, "cancelled")
        assert [sets.session_of(m) for m in (first, third)] == [(1, 2), (2, 2)]
        assert sets.session_of(second) == (2, 3)  # its cancellation reads as it was


def test_a_set_s_actions_come_oldest_first_after_one_is_updated(factory, weekly):
    with database.transaction(factory) as db:
        learning_set, (first, _, _) = _weekly(db, weekly)
        zoe = learning_set.members[0]
        older = sets.add_action(db, first, zoe.id, "First said")
        newer = sets.add_action(db, first, zoe.id, "Second said")
        sets.update_action(db, older, "done", "Done at once")  # PostgreSQL writes a new row version
    with factory() as db:
        assert [a.text for a in sets.actions_for(db, db.get(LearningSet, weekly))] == [
            "First said",
            "Second said",
        ]
        assert newer.id > older.id


def test_the_last_invite_written_decides_even_after_an_earlier_one_is_updated(factory, weekly):
    with database.transaction(factory) as db:
        learning_set, (first, _, _) = _weekly(db, weekly)
        zoe = learning_set.members[0]
        _sent(db, first, zoe, "REQUEST", claim="being-sent")
        _sent(db, first, zoe, "CANCEL", delivered=True)
        request = db.scalars(select(SentInvite).order_by(SentInvite.id)).first()
        request.delivered, request.claim = True, None  # PostgreSQL writes a new row version
    with factory() as db:
        meeting = sets.meetings_in_order(db.get(LearningSet, weekly))[0]
        assert sets.invited_members(db, meeting) == set()  # the CANCEL came after


def test_a_save_without_a_version_is_not_checked_and_a_stale_one_is_refused(factory, weekly):
    with database.transaction(factory) as db:
        learning_set, (first, _, _) = _weekly(db, weekly)
        for seen in (None, "", learning_set.version, str(learning_set.version)):
            sets.check_version(learning_set, seen)  # a script's request, or an up-to-date form
        programme = create_programme(db, "kss-2027", "KSS 2027")
        db.flush()
        for row, what in ((first, "session"), (learning_set, "set"), (programme, "programme")):
            with pytest.raises(sets.Conflict) as refused:
                sets.check_version(row, row.version + 1)
            assert str(refused.value) == (
                f"Someone else changed this {what} after you opened the page, so your changes "
                "were not saved. They are still in the form below: check them against the "
                "current details and save again."
            )


def test_a_member_is_added_with_no_grade_unless_given_and_refused_in_words(factory, weekly):
    with database.transaction(factory) as db:
        learning_set, _ = _weekly(db, weekly)
        cai = sets.add_member(db, learning_set, "Cai Dee", "cai@example.nhs.uk")
        assert cai.grade == ""
        with pytest.raises(sets.SetError) as refused:
            sets.add_member(db, learning_set, "Cai again", "CAI@example.nhs.uk")
        assert str(refused.value) == "cai@example.nhs.uk is already a member of this set"
        with pytest.raises(sets.SetError, match="^'not an address' is not an e-mail address: "):
            sets.add_member(db, learning_set, "Dee", "not an address")
        with pytest.raises(sets.SetError, match="^the name is "):
            sets.add_member(db, learning_set, "n" * (limits.NAME + 1), "n@example.nhs.uk")
        with pytest.raises(sets.SetError, match="^the grade is "):
            sets.add_member(db, learning_set, "Gil", "g@example.nhs.uk", "g" * (limits.GRADE + 1))


def test_a_series_takes_its_templates_by_place_its_slot_length_and_the_room_left(factory):
    with database.transaction(factory) as db:
        owner = create_user(db, "fac@example.org", None, "Dr Facilitator")
        learning_set = sets.create_set(db, owner, "set-a", "Set A")
        start = local_start(date(2027, 2, 11), time(14, 0), "Europe/London")
        case_day = TEMPLATES["case-discussion"]
        made = sets.add_series(db, learning_set, start, 1, 3, TEMPLATE, {1: case_day}, minutes=150)
        assert [m.template_id for m in made] == [TEMPLATE.id, case_day.id, TEMPLATE.id]
        assert [m.minutes for m in made] == [150, 150, 150]
        later = local_start(date(2028, 1, 6), time(14, 0), "Europe/London")
        room = limits.SESSIONS - 3
        with pytest.raises(sets.SetError) as refused:
            sets.add_series(db, learning_set, later, 1, room + 1, TEMPLATE)
        assert str(refused.value) == (
            f"A learning set can have at most {limits.SESSIONS} sessions; nothing was added."
        )
        assert len(sets.add_series(db, learning_set, later, 1, room, TEMPLATE)) == room


def test_an_agenda_built_from_a_template_follows_the_rota_unless_told_not_to(factory, weekly):
    with database.transaction(factory) as db:
        _, (first, second, _) = _weekly(db, weekly)
        kinds = [[b.kind for b in m.blocks] for m in (first, second)]
        assert "action-review" not in kinds[0] and "action-review" in kinds[1]  # none yet at 1
        sets.apply_template(db, second, TEMPLATE, rota=False)
        assert [b.presenter_id for b in sets.presenter_rounds(second)] == [None, None, None]
        sets.apply_template(db, second, TEMPLATE)
        assert None not in [b.presenter_id for b in sets.presenter_rounds(second)]


def test_the_rota_leaves_started_sessions_and_counts_who_was_present(factory, weekly):
    with database.transaction(factory) as db:
        learning_set, (first, second, _) = _weekly(db, weekly)
        zoe, ali, bea = learning_set.members
        assert not sets.follows_rota(first, now=first.starts_at)  # it has started
        rounds = sets.presenter_rounds(first)
        rounds[0].presenter_id, rounds[1].presenter_id = rounds[1].presenter_id, zoe.id
        chosen = [b.presenter_id for b in rounds]
        sets.refresh_rota(db, learning_set, now=first.starts_at)
        assert [b.presenter_id for b in sets.presenter_rounds(first)] == chosen  # left alone
        now = first.starts_at + timedelta(hours=1)
        sets.record_attendance(db, first, dict.fromkeys((zoe.id, ali.id, bea.id), "present"), now)
        assert sorted(sets.presented(first)) == sorted(chosen)
        _sent(db, second, zoe, "REQUEST", delivered=True)
        sets.delete_meeting(db, second, now=now)  # hidden, still owed a cancellation
        assert sets.meeting_number(second) == 2  # numbered where it stood


def test_a_session_just_added_gets_presenters_even_if_it_has_started(factory, weekly):
    with database.transaction(factory) as db:
        learning_set, (first, _, _) = _weekly(db, weekly)
        earlier = first.starts_at - timedelta(days=7)
        added = sets.add_meeting(db, learning_set, earlier, TEMPLATE, rota=False)
        assert [b.presenter_id for b in sets.presenter_rounds(added)] == [None] * 3
        sets.refresh_rota(db, learning_set, now=first.starts_at, also=[added])
        assert None not in [b.presenter_id for b in sets.presenter_rounds(added)]


def test_the_rota_names_exactly_the_sessions_whose_presenters_it_changed(factory, weekly):
    """Three members, three rounds a session: a member gone changes every session's rounds;
    asked again at once, nothing changes. (The set-file import reports these by name.)"""
    with database.transaction(factory) as db:
        learning_set, meetings = _weekly(db, weekly)
        assert sets.refresh_rota(db, learning_set) == []
        before = _presenters(learning_set)
        learning_set.members[1].active = False
        changed = sets.refresh_rota(db, learning_set)
        after = _presenters(learning_set)
        assert changed == [
            m for m, old, new in zip(meetings, before, after, strict=True) if old != new
        ]
        assert changed and sets.refresh_rota(db, learning_set) == []


def test_a_new_session_s_id_skips_every_taken_one_never_reusing_an_earlier_gap(factory, weekly):
    """Ids session-2 to session-4 taken (session-1's freed): the next is session-5, counting on
    from the number of sessions, never back to session-1, which links may still name."""
    with database.transaction(factory) as db:
        learning_set, meetings = _weekly(db, weekly)
        for meeting, n in reversed(list(zip(meetings, (2, 3, 4), strict=True))):
            meeting.key = f"session-{n}"  # the last first: keys are unique at every step
            db.flush()
        assert sets.new_meeting_key(learning_set) == "session-5"
