"""A session's evaluation results as the facilitator (and the programme lead's report) may see
them: only once answers have closed and at least as many members answered as the
self-assessment's totals need, never as running totals, free text sorted, never in arrival order."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from toolkit.evaluations.answers import NOT_THERE, closing
from toolkit.evaluations.questions import RATINGS, SCALE, TEXTS
from toolkit.models import Attendance, EvaluationAnswer, EvaluationClosure, Meeting, Member
from toolkit.self_assessment import MIN_ANSWERS


@dataclass(frozen=True)
class RatingResult:
    """One rating question: how many chose each point of SCALE (1 to 5), and the mean."""

    question_id: str
    text: str
    counts: tuple[int, ...]  # len(SCALE) counts, "Strongly disagree" first
    mean: float | None  # None when nobody rated it


@dataclass(frozen=True)
class TextResult:
    """One free-text question and its non-empty answers, sorted (never in arrival order)."""

    question_id: str
    text: str
    answers: tuple[str, ...]


@dataclass(frozen=True)
class SessionResults:
    """A closed session's evaluation with enough answers to show."""

    meeting_id: int
    answered: int  # forms answered
    eligible: int  # members who came (or were not marked as not there) and are still members
    ratings: tuple[RatingResult, ...]  # in QUESTIONS order
    texts: tuple[TextResult, ...]  # in QUESTIONS order


@dataclass(frozen=True)
class Progress:
    """What the facilitator sees before results are released: a count, and when it closes."""

    meeting_id: int
    answered: int
    eligible: int
    closes_at: datetime
    closed: bool
    results: SessionResults | None  # only once closed with at least MIN_ANSWERS answers


def released(db: Session, meeting_id: int, *, now: datetime) -> SessionResults | None:
    """The session's results, or None unless its evaluation has closed with at least
    MIN_ANSWERS answers."""
    return released_for(db, [meeting_id], now=now).get(meeting_id)


def released_for(
    db: Session, meeting_ids: Iterable[int], *, now: datetime
) -> dict[int, SessionResults]:
    """The released results of these sessions, by meeting id (the others are left out): one
    query per table, however many sessions."""
    return {
        p.meeting_id: p.results
        for p in progress_for(db, meeting_ids, now=now).values()
        if p.results is not None
    }


def progress_for(db: Session, meeting_ids: Iterable[int], *, now: datetime) -> dict[int, Progress]:
    """Per session that has ended: answered so far, who could, when it closes, and the results
    if released. Sessions not yet ended, cancelled or unknown are left out."""
    ids = sorted(set(meeting_ids))
    if not ids:
        return {}
    rows = db.execute(
        select(
            Meeting.id, Meeting.set_id, Meeting.starts_at, Meeting.minutes, Meeting.status
        ).where(Meeting.id.in_(ids), Meeting.deleted_at.is_(None))
    ).all()
    ended = {
        r.id: r
        for r in rows
        if r.status != "cancelled" and r.starts_at + timedelta(minutes=r.minutes) <= now
    }
    if not ended:
        return {}
    early = dict(
        db.execute(
            select(EvaluationClosure.meeting_id, EvaluationClosure.closed_at).where(
                EvaluationClosure.meeting_id.in_(ended)
            )
        ).all()
    )
    forms: dict[int, list[dict]] = {i: [] for i in ended}
    for meeting_id, answers in db.execute(
        select(EvaluationAnswer.meeting_id, EvaluationAnswer.answers).where(
            EvaluationAnswer.meeting_id.in_(ended)
        )
    ):
        forms[meeting_id].append(json.loads(answers))
    set_ids = {r.set_id for r in ended.values()}
    members = db.execute(
        select(Member.id, Member.set_id).where(Member.set_id.in_(set_ids), Member.active)
    ).all()
    away = set(
        db.execute(
            select(Attendance.meeting_id, Attendance.member_id).where(
                Attendance.meeting_id.in_(ended), Attendance.status.in_(NOT_THERE)
            )
        ).all()
    )
    found = {}
    for meeting_id, row in ended.items():
        end = row.starts_at + timedelta(minutes=row.minutes)
        closes = closing(end, early.get(meeting_id))
        eligible = sum(
            1 for m in members if m.set_id == row.set_id and (meeting_id, m.id) not in away
        )
        answered = len(forms[meeting_id])
        closed = now >= closes
        results = None
        if closed and answered >= MIN_ANSWERS:
            results = _results(meeting_id, eligible, forms[meeting_id])
        found[meeting_id] = Progress(meeting_id, answered, eligible, closes, closed, results)
    return found


def _results(meeting_id: int, eligible: int, forms: list[dict]) -> SessionResults:
    ratings = []
    for question in RATINGS:
        points = [f[question.id] for f in forms if isinstance(f.get(question.id), int)]
        counts = tuple(points.count(n) for n in range(1, len(SCALE) + 1))
        mean = round(sum(points) / len(points), 2) if points else None
        ratings.append(RatingResult(question.id, question.text, counts, mean))
    texts = tuple(
        TextResult(
            question.id,
            question.text,
            tuple(
                sorted(
                    (f.get(question.id) or "" for f in forms if f.get(question.id)),
                    key=str.casefold,
                )
            ),
        )
        for question in TEXTS
    )
    return SessionResults(meeting_id, len(forms), eligible, tuple(ratings), texts)
