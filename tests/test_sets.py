"""The sets service: scheduling refuses sessions that repeat ones already there."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from toolkit import db as database
from toolkit import sets
from toolkit.accounts import create_user
from toolkit.config import REPO_ROOT, Settings
from toolkit.models import LearningSet
from toolkit.planning import local_start
from toolkit.session_templates import load_session_templates

TEMPLATE = load_session_templates(REPO_ROOT / "session_templates")["action-learning-set"]
TITLE = TEMPLATE.short_title  # a new session is titled from its template


@pytest.fixture
def factory(env: Settings):
    return database.session_factory(database.make_engine(env.database_url))


@pytest.fixture
def set_id(factory) -> int:
    """A set with 3 sessions every 6 weeks from Thu 11 Feb 2027, 14:00 London (the third in BST)."""
    with database.transaction(factory) as db:
        owner = create_user(db, "fac@example.org", None, "Dr Facilitator")
        s = sets.create_set(db, owner, "set-a", "Set A")
        start = local_start(date(2027, 2, 11), time(14, 0), "Europe/London")
        sets.add_series(db, s, start, 6, 3, TEMPLATE)
        return s.id


def _refused(factory, set_id: int, add) -> str:
    with pytest.raises(sets.SetError) as refused, database.transaction(factory) as db:
        add(db, db.get(LearningSet, set_id))
    with factory() as db:
        assert len(db.get(LearningSet, set_id).meetings) == 3  # nothing added
    return str(refused.value)


def test_a_series_repeating_sessions_is_refused_naming_each_clash(factory, set_id):
    first = local_start(date(2027, 1, 28), time(14, 0), "Europe/London")
    message = _refused(factory, set_id, lambda db, s: sets.add_series(db, s, first, 2, 3, TEMPLATE))
    assert message == (
        f"There is already a session at Thu 11 Feb 2027, 14:00 (Session 1: {TITLE}); "
        "nothing was added."
    )
    first = local_start(date(2027, 3, 25), time(14, 0), "Europe/London")
    message = _refused(factory, set_id, lambda db, s: sets.add_series(db, s, first, 6, 4, TEMPLATE))
    assert message == (
        f"There are already sessions at Thu 25 Mar 2027, 14:00 (Session 2: {TITLE}) and "
        f"Thu 6 May 2027, 14:00 (Session 3: {TITLE}); nothing was added."
    )


@pytest.mark.parametrize(
    "start",
    [
        datetime(2027, 2, 11, 14, 0, tzinfo=UTC),  # the same instant, given in UTC (GMT)
        datetime(2027, 5, 6, 13, 0, tzinfo=UTC),  # 14:00 BST
    ],
)
def test_a_single_session_at_an_existing_instant_is_refused(factory, set_id, start):
    message = _refused(factory, set_id, lambda db, s: sets.add_meeting(db, s, start, TEMPLATE))
    assert message.startswith("There is already a session at Thu ")
    assert message.endswith("nothing was added.")


def test_a_session_at_another_time_or_in_a_deleted_sessions_place_is_added(factory, set_id):
    with database.transaction(factory) as db:
        s = db.get(LearningSet, set_id)
        first = sets.meetings_in_order(s)[0]
        sets.add_meeting(db, s, first.starts_at.replace(hour=9), TEMPLATE)
        start = first.starts_at
        assert sets.delete_meeting(db, first) is False  # nobody invited: gone at once
        sets.add_meeting(db, s, start, TEMPLATE)
    with factory() as db:
        assert len(db.get(LearningSet, set_id).meetings) == 4


def test_a_set_holds_at_most_50_members_and_100_sessions(factory, set_id):
    """The web kept going past what the set file accepts, so such a set could not re-import."""
    with database.transaction(factory) as db:
        s = db.get(LearningSet, set_id)
        for n in range(50):
            sets.add_member(db, s, f"Member {n}", f"m{n}@example.org")
    with (
        pytest.raises(sets.SetError, match="at most 50 members"),
        database.transaction(factory) as db,
    ):
        sets.add_member(db, db.get(LearningSet, set_id), "One more", "more@example.org")
    first = local_start(date(2030, 1, 3), time(14, 0), "Europe/London")
    with database.transaction(factory) as db:
        sets.add_series(db, db.get(LearningSet, set_id), first, 1, 20, TEMPLATE)
    message = _refused_at(
        factory,
        set_id,
        23,
        lambda db, s: sets.add_series(
            db, s, local_start(date(2031, 1, 2), time(14, 0), "Europe/London"), 1, 78, TEMPLATE
        ),
    )
    assert message == "A learning set can have at most 100 sessions; nothing was added."


def _refused_at(factory, set_id: int, count: int, add) -> str:
    with pytest.raises(sets.SetError) as refused, database.transaction(factory) as db:
        add(db, db.get(LearningSet, set_id))
    with factory() as db:
        assert len(db.get(LearningSet, set_id).meetings) == count  # nothing added
    return str(refused.value)


def test_a_prompt_attached_after_a_removal_goes_last(factory, set_id):
    """Positions came from a count, so after a removal two prompts shared one place."""
    from toolkit.casebank import load_bank

    bank = load_bank(REPO_ROOT / "casebank")
    first, second, third = sorted(bank.prompts)[:3]
    with database.transaction(factory) as db:
        meeting = sets.meetings_in_order(db.get(LearningSet, set_id))[0]
        for prompt in (first, second):
            sets.attach(db, meeting, bank, prompt_id=prompt)
        sets.detach(db, meeting, prompt_id=first)
        sets.attach(db, meeting, bank, prompt_id=third)
        positions = {p.prompt_id: p.position for p in meeting.prompts}
    assert positions[third] > positions[second]


def test_a_held_session_cannot_move_into_the_future(factory, set_id):
    later = datetime(2027, 6, 1, 13, 0, tzinfo=UTC)
    now = datetime(2027, 2, 12, tzinfo=UTC)
    with database.transaction(factory) as db:
        meeting = sets.meetings_in_order(db.get(LearningSet, set_id))[0]
        member = sets.add_member(db, meeting.learning_set, "Zoë", "zoe@example.org")
        sets.record_attendance(db, meeting, {member.id: "present"}, now=now)
    with pytest.raises(sets.SetError, match="cannot move to a time that has not come yet"):
        with database.transaction(factory) as db:
            meeting = sets.meetings_in_order(db.get(LearningSet, set_id))[0]
            sets.change_meeting(db, meeting, start=later, now=now)


def test_a_session_cannot_move_onto_another_sessions_start(factory, set_id):
    """Before: the details form moved a session onto another's start without a word."""
    with database.transaction(factory) as db:
        first, second, _third = sets.meetings_in_order(db.get(LearningSet, set_id))
        second_start = second.starts_at
    with pytest.raises(sets.SetError) as refused, database.transaction(factory) as db:
        first = sets.meetings_in_order(db.get(LearningSet, set_id))[0]
        sets.change_meeting(db, first, start=second_start)
    assert str(refused.value) == (
        f"There is already a session at Thu 25 Mar 2027, 14:00 (Session 2: {TITLE}); "
        "the session was not moved."
    )
    with database.transaction(factory) as db:  # its own start again is no clash
        first = sets.meetings_in_order(db.get(LearningSet, set_id))[0]
        assert not sets.change_meeting(db, first, start=first.starts_at)


def test_a_set_holds_no_more_actions_than_its_file_can(factory, set_id, monkeypatch):
    """The web took actions past the set file's cap, so such a set could not re-import."""
    from toolkit import limits

    monkeypatch.setattr(limits, "ACTIONS", 2)
    with database.transaction(factory) as db:
        meeting = sets.meetings_in_order(db.get(LearningSet, set_id))[0]
        for n in range(2):
            sets.add_action(db, meeting, None, f"Action {n}")
    with (
        pytest.raises(sets.SetError, match="at most 2 actions"),
        database.transaction(factory) as db,
    ):
        meeting = sets.meetings_in_order(db.get(LearningSet, set_id))[0]
        sets.add_action(db, meeting, None, "One too many")
