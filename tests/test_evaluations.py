"""The evaluation core: once per member who came, anonymous storage, closing after 14 days or
early, and results released only when closed with at least four answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, inspect, select, text
from sqlalchemy.exc import IntegrityError

from toolkit import evaluations, sets
from toolkit.models import EvaluationAnswer, EvaluationAnswerer, Member
from toolkit.self_assessment import MIN_ANSWERS
from toolkit.sets import SetError

from .test_self_assessment import mark_present
from .test_sets_web import days_ago, make_set, meetings

GOOD = {
    **{q.id: "4" for q in evaluations.RATINGS},
    "take-away": "asking before advising",
    "improve": "",
}


@pytest.fixture
def db(app):
    with app.extensions["toolkit"].sessions() as session:
        yield session


@pytest.fixture
def held(app, db, signed_in):
    """Set A's first session held 50 days ago, everyone there but Priya (absent); the second
    8 days ago with no register taken. Returns the meetings and the members by e-mail."""
    make_set(signed_in, first=days_ago(50))
    everyone = [m.email for m in meetings(db)[0].learning_set.members]
    mark_present(signed_in, db, [e for e in everyone if not e.startswith("priya")])
    found = meetings(db)
    return found, {m.email: m for m in found[0].learning_set.members}


def answer(db, meeting, member, form=GOOD, now=None):
    evaluations.submit(db, meeting, member, dict(form), now=now)
    db.commit()


def test_the_questions_are_one_definition():
    ids = [q.id for q in evaluations.QUESTIONS]
    assert len(ids) == len(set(ids)) == 9
    assert {q.kind for q in evaluations.QUESTIONS} == {"rating", "text"}
    assert len(evaluations.SCALE) == 5


def test_a_member_answers_once_and_the_answer_holds_no_member_or_time(db, held):
    (first, *_), people = held
    zoe = people["zoe@example.nhs.uk"]
    now = sets.end_time(first) + timedelta(days=20)
    with pytest.raises(SetError, match="has closed"):  # 50 days on: closed
        answer(db, first, zoe, now=now)
    now = sets.end_time(first) + timedelta(hours=1)
    answer(db, first, zoe, now=now)
    with pytest.raises(SetError, match="already answered"):
        answer(db, first, zoe, now=now)
    db.rollback()
    assert len(db.scalars(select(EvaluationAnswer)).all()) == 1
    assert len(db.scalars(select(EvaluationAnswerer)).all()) == 1
    columns = {c["name"] for c in inspect(db.get_bind()).get_columns("evaluation_answers")}
    assert columns == {"id", "meeting_id", "answers"}  # no member, no time
    assert evaluations.status(db, first, zoe, now) == "answered"


def test_two_answers_at_once_store_one(db, app, held):
    """A second tab's POST that passed the check before the first was saved meets the key."""
    (first, *_), people = held
    now = sets.end_time(first) + timedelta(hours=1)
    zoe = people["zoe@example.nhs.uk"]
    with app.extensions["toolkit"].sessions() as other:
        twin = other.get(type(first), first.id)
        assert evaluations.status(other, twin, other.get(Member, zoe.id), now) == "open"

        landed: list[bool] = []

        def first_tab_lands(session, context, instances) -> None:  # after the second's check
            if not landed:
                landed.append(True)
                answer(db, first, zoe, now=now)

        event.listen(other, "before_flush", first_tab_lands)
        with pytest.raises(IntegrityError):  # the answerers' primary key, on either database
            evaluations.submit(other, twin, other.get(Member, zoe.id), dict(GOOD), now=now)
        other.rollback()
        assert landed
    assert len(db.scalars(select(EvaluationAnswer)).all()) == 1


def test_only_members_who_came_and_of_the_set_may_answer(db, app, signed_in, held):
    (first, second, third, *_), people = held
    now = sets.end_time(first) + timedelta(hours=1)
    with pytest.raises(SetError, match="came to the session"):
        answer(db, first, people["priya@example.nhs.uk"], now=now)
    with pytest.raises(SetError, match="opens when the session has ended"):
        answer(db, third, people["zoe@example.nhs.uk"], now=now)
    make_set(signed_in, slug="set-b", first=days_ago(50))
    stranger = meetings(db, "set-b")[0].learning_set.members[0]
    with pytest.raises(SetError, match="no such session"):
        answer(db, first, stranger, now=now)
    # no register taken for session 2: everyone may answer it
    answer(db, second, people["priya@example.nhs.uk"], now=sets.end_time(second))


def test_a_form_must_rate_every_statement_and_bound_its_text(db, held):
    (first, *_), people = held
    now = sets.end_time(first) + timedelta(hours=1)
    with pytest.raises(SetError, match="every statement"):
        answer(db, first, people["zoe@example.nhs.uk"], form={**GOOD, "focus": "6"}, now=now)
    with pytest.raises(SetError, match="the limit is 2000"):
        answer(
            db, first, people["zoe@example.nhs.uk"], form={**GOOD, "improve": "x" * 10_000}, now=now
        )
    db.rollback()
    assert db.scalars(select(EvaluationAnswerer)).all() == []


def _four(db, meeting, people, how_many, now):
    who = [e for e in people if not e.startswith("priya")][:how_many]
    words = ["zebra crossing", "Asking first", "b", "an apple", "x"]
    for email, said in zip(who, words, strict=False):
        answer(db, meeting, people[email], form={**GOOD, "take-away": said, "focus": "2"}, now=now)


def test_results_wait_for_close_and_four_answers(db, held):
    (first, *_), people = held
    end = sets.end_time(first)
    _four(db, first, people, 3, end + timedelta(hours=1))
    assert evaluations.released(db, first.id, now=end + timedelta(days=15)) is None  # 3 after
    answer(db, first, people["tom@example.nhs.uk"], now=end + timedelta(days=2))
    assert evaluations.released(db, first.id, now=end + timedelta(days=13)) is None  # 4 before
    shown = evaluations.released(db, first.id, now=end + timedelta(days=14))
    assert shown is not None and shown.answered == 4 and shown.eligible == 5
    assert MIN_ANSWERS == 4
    focus = next(r for r in shown.ratings if r.question_id == "focus")
    assert focus.counts == (0, 3, 0, 1, 0)
    assert focus.mean == 2.5
    take = next(t for t in shown.texts if t.question_id == "take-away")
    assert take.answers == ("asking before advising", "Asking first", "b", "zebra crossing")
    assert next(t for t in shown.texts if t.question_id == "improve").answers == ()


def test_closing_early_releases_and_stops_answers(db, held):
    (first, *_), people = held
    end = sets.end_time(first)
    _four(db, first, people, 4, end + timedelta(hours=1))
    with pytest.raises(SetError, match="once its session has ended"):
        evaluations.close(db, first, now=end - timedelta(minutes=1))
    evaluations.close(db, first, now=end + timedelta(days=1))
    evaluations.close(db, first, now=end + timedelta(days=2))  # again: the first close stands
    db.commit()
    assert evaluations.closes_at(db, first) == end + timedelta(days=1)
    assert evaluations.released(db, first.id, now=end + timedelta(days=1)) is not None
    with pytest.raises(SetError, match="has closed"):
        answer(db, first, people["tom@example.nhs.uk"], now=end + timedelta(days=1, hours=1))


def test_released_for_asks_once_per_table_however_many_sessions(db, held):
    (first, second, *rest), people = held
    for meeting in (first, second):
        _four(db, meeting, people, 4, sets.end_time(meeting) + timedelta(hours=1))
    now = sets.end_time(second) + timedelta(days=30)
    statements = []

    def count(*args):
        statements.append(args[2])

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        one = evaluations.released_for(db, [first.id], now=now)
        asked_for_one = len(statements)
        statements.clear()
        many = evaluations.released_for(db, [m.id for m in (first, second, *rest)], now=now)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert set(one) == {first.id} and set(many) == {first.id, second.id}
    assert len(statements) == asked_for_one <= 5
    assert evaluations.released_for(db, [], now=now) == {}


def test_where_answers_lie_on_disk_says_nothing_of_their_order(db, held):
    """SQLite: the table has no hidden row number. PostgreSQL: rows lie in the order written,
    so each answer rewrites the session's answers in their random keys' order."""
    (first, *_), people = held
    now = sets.end_time(first) + timedelta(hours=1)
    for email in [e for e in people if not e.startswith("priya")]:
        answer(db, first, people[email], now=now)
    with db.get_bind().connect() as connection:
        if connection.dialect.name == "sqlite":
            with pytest.raises(Exception, match="rowid"):
                connection.execute(text("SELECT rowid FROM evaluation_answers"))
            with pytest.raises(Exception, match="rowid"):
                connection.execute(text("SELECT rowid FROM evaluation_answerers"))
        else:
            on_disk = connection.scalars(text("SELECT id FROM evaluation_answers ORDER BY ctid"))
            assert list(on_disk) == sorted(r.id for r in db.scalars(select(EvaluationAnswer)))
