"""Members answering a session's evaluation from their own page: who may, until when, and
storing each answer so that nobody, not even a reader of the database, can tie it to them."""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from toolkit import limits, sets
from toolkit.evaluations.questions import QUESTIONS, RATINGS, SCALE, TEXTS
from toolkit.models import (
    EvaluationAnswer,
    EvaluationAnswerer,
    EvaluationClosure,
    Meeting,
    Member,
    utcnow,
)
from toolkit.sets import SetError

OPEN_DAYS = 14  # an evaluation closes this many days after its session ends
NOT_THERE = ("absent", "apologies")  # register entries that mean the member did not come


def closes_at(db: Session, meeting: Meeting) -> datetime:
    """When answers close: 14 days after the session ends, or when the facilitator closed it."""
    closure = db.get(EvaluationClosure, meeting.id)
    return closing(sets.end_time(meeting), closure.closed_at if closure else None)


def closing(ended: datetime, closed_early: datetime | None) -> datetime:
    """The moment answers close, from when the session ended and any early close."""
    due = ended + timedelta(days=OPEN_DAYS)
    return min(due, closed_early) if closed_early else due


def is_closed(db: Session, meeting: Meeting, now: datetime) -> bool:
    return now >= closes_at(db, meeting)


def came(meeting: Meeting, member: Member) -> bool:
    """Present, or at least not marked as not there (registers are not always taken)."""
    row = next((a for a in meeting.attendance if a.member_id == member.id), None)
    return row is None or row.status not in NOT_THERE


def has_answered(db: Session, meeting: Meeting, member: Member) -> bool:
    return db.get(EvaluationAnswerer, (meeting.id, member.id)) is not None


def status(db: Session, meeting: Meeting, member: Member, now: datetime) -> str:
    """What the member's page says of this session's evaluation: "later" (the session has not
    ended), "not-there", "cancelled", "answered", "closed" or "open"."""
    return statuses(db, [meeting], member, now)[meeting.id][0]


def statuses(
    db: Session, meetings: list[Meeting], member: Member, now: datetime
) -> dict[int, tuple[str, datetime]]:
    """Each session's status for this member (as `status`) and when its answers close, asking
    the database twice however many sessions there are (the member's page lists them all)."""
    ids = [m.id for m in meetings]
    closed = dict(
        db.execute(
            select(EvaluationClosure.meeting_id, EvaluationClosure.closed_at).where(
                EvaluationClosure.meeting_id.in_(ids)
            )
        ).all()
    )
    answered = set(
        db.scalars(
            select(EvaluationAnswerer.meeting_id).where(
                EvaluationAnswerer.member_id == member.id, EvaluationAnswerer.meeting_id.in_(ids)
            )
        )
    )
    found = {}
    for meeting in meetings:
        closes = closing(sets.end_time(meeting), closed.get(meeting.id))
        found[meeting.id] = (_state(meeting, member, now, meeting.id in answered, closes), closes)
    return found


def _state(meeting: Meeting, member: Member, now: datetime, answered: bool, closes: datetime):
    if meeting.status == "cancelled" or meeting.deleted_at is not None:
        return "cancelled"
    if now < sets.end_time(meeting):
        return "later"
    if not came(meeting, member):
        return "not-there"
    if answered:
        return "answered"
    if now >= closes:
        return "closed"
    return "open"


REFUSALS = {
    "cancelled": "That session did not take place, so it has no evaluation.",
    "later": "The evaluation opens when the session has ended.",
    "not-there": "Only members who came to the session can answer its evaluation.",
    "answered": "You have already answered this session's evaluation: thank you.",
    "closed": "This session's evaluation has closed.",
}


def read_form(form: dict[str, str]) -> dict[str, int | str]:
    """The answers from a form (every rating from 1 to 5; free text optional and bounded)."""
    found: dict[str, int | str] = {}
    missing = []
    for question in RATINGS:
        raw = (form.get(question.id) or "").strip()
        if raw not in {str(n) for n in range(1, len(SCALE) + 1)}:
            missing.append(question.text)
            continue
        found[question.id] = int(raw)
    if missing:
        raise SetError(f"Choose an answer for every statement ({len(missing)} still to do).")
    for question in TEXTS:
        found[question.id] = sets.text_field(
            form.get(question.id, ""), limits.EVALUATION_TEXT, f'answer to "{question.text}"'
        )
    return found


def submit(
    db: Session, meeting: Meeting, member: Member, form: dict[str, str], now: datetime | None = None
) -> None:
    """Record one member's answers, once: that they answered in one table, what they answered in
    another with a random key and no member or time. A second answer (a double click, another
    tab) is refused; two at the same moment meet the answerers' primary key and one fails."""
    now = now or utcnow()
    if member.set_id != meeting.set_id:
        raise SetError("There is no such session in your set.")
    state = status(db, meeting, member, now)
    if state != "open":
        raise SetError(REFUSALS[state])
    answers = read_form(form)
    db.add(EvaluationAnswerer(meeting_id=meeting.id, member_id=member.id))
    db.flush()  # the primary key refuses a second answer before anything else is written
    db.add(
        EvaluationAnswer(
            id=secrets.token_hex(16),
            meeting_id=meeting.id,
            answers=json.dumps({q.id: answers[q.id] for q in QUESTIONS}, sort_keys=True),
        )
    )
    db.flush()
    _reshuffle(db, meeting.id)


def _reshuffle(db: Session, meeting_id: int) -> None:
    """Write the session's answers again, one by one in their random keys' order, so that where
    they lie on disk says nothing of when each came (PostgreSQL keeps rows in the order written;
    SQLite's table, without row numbers, is already in key order). Every answer then also carries
    this transaction's id, the newest answer's alike."""
    ids = db.scalars(
        select(EvaluationAnswer.id)
        .where(EvaluationAnswer.meeting_id == meeting_id)
        .order_by(EvaluationAnswer.id)
    ).all()
    for answer_id in ids:
        db.execute(
            update(EvaluationAnswer)
            .where(EvaluationAnswer.id == answer_id)
            .values(answers=EvaluationAnswer.answers)
        )


def close(db: Session, meeting: Meeting, now: datetime | None = None) -> None:
    """Close a session's evaluation now (the facilitator, early); closing again changes nothing."""
    now = now or utcnow()
    if now < sets.end_time(meeting):
        raise SetError("An evaluation can be closed once its session has ended.")
    if db.get(EvaluationClosure, meeting.id) is None and now < closes_at(db, meeting):
        db.add(EvaluationClosure(meeting_id=meeting.id, closed_at=now))
        db.flush()


def answered_count(db: Session, meeting_id: int) -> int:
    """How many answered so far (the count alone: nothing of what they said)."""
    rows = db.scalars(select(EvaluationAnswer.id).where(EvaluationAnswer.meeting_id == meeting_id))
    return len(list(rows))
