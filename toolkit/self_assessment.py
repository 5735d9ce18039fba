"""HLM-style self-assessment: members' own ratings through a private link; anonymous totals."""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from html import escape
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from toolkit.casebank import LEVELS
from toolkit.frameworks import Frameworks
from toolkit.letters import Link, Section, greeting, render
from toolkit.mail import Letter
from toolkit.models import AssessmentPhase, LearningSet, Member, SelfRating, utcnow
from toolkit.sets import SetError

PHASES = ("start", "end")
PRIVACY = (
    "Those totals appear only after answers close (on a date your facilitator sets, or once "
    "everyone has answered), only if at least four members who have come to a session answered, "
    "and they are fixed then: no later answer or deletion changes them, so no one's answers can "
    "be worked out by comparing."
)
MIN_ANSWERS = 4  # totals are shown only if this many members who came to a session answered


def ensure_token(member: Member) -> str:
    """The member's private link token, made on first use."""
    if not member.assessment_token:
        member.assessment_token = secrets.token_urlsafe(32)
    return member.assessment_token


def replace_token(member: Member) -> str:
    """Give the member a new private link: the old one stops working at once."""
    member.assessment_token = secrets.token_urlsafe(32)
    return member.assessment_token


def member_by_token(db: Session, token: str) -> Member | None:
    """The member a token belongs to; short or unknown tokens get nothing."""
    if len(token) < 32:
        return None
    member = db.scalar(select(Member).where(Member.assessment_token == token))
    if member is None or not hmac.compare_digest(member.assessment_token or "", token):
        return None
    return member


def unanswered(ratings: dict[str, int], dims: Sequence[str]) -> list[str]:
    """The dimensions without a level from 1 to 4, in the form's order."""
    return [d for d in dims if ratings.get(d) not in (1, 2, 3, 4)]


def save_ratings(
    db: Session, member: Member, phase: str, ratings: dict[str, int], dims: Sequence[str]
) -> None:
    """Replace the member's ratings for a phase; every dimension needs a level from 1 to 4."""
    if phase not in PHASES:
        raise SetError("choose the start or the end of the programme")
    missing = unanswered(ratings, dims)
    if missing:
        raise SetError(f"rate every dimension ({len(missing)} still to do)")
    freeze_closed(db, member.learning_set, dims)  # totals already closed keep this answer out
    existing = {r.dimension: r for r in _rows(db, member) if r.phase == phase}
    now = utcnow()
    for dimension in dims:
        row = existing.get(dimension) or SelfRating(
            member_id=member.id, phase=phase, dimension=dimension
        )
        row.level, row.recorded_at = ratings[dimension], now
        db.add(row)
    db.flush()
    freeze_closed(db, member.learning_set, dims)  # the last member to answer closes the phase


def _rows(db: Session, member: Member) -> list[SelfRating]:
    return list(db.scalars(select(SelfRating).where(SelfRating.member_id == member.id)))


def ratings_of(db: Session, member: Member) -> dict[str, dict[str, int]]:
    """{phase: {dimension: level}} for one member."""
    found: dict[str, dict[str, int]] = {}
    for row in _rows(db, member):
        found.setdefault(row.phase, {})[row.dimension] = row.level
    return found


def delete_ratings(db: Session, member: Member, dims: Sequence[str]) -> int:
    """Delete every rating the member made (totals already closed keep them, anonymously);
    returns how many."""
    freeze_closed(db, member.learning_set, dims)
    rows = _rows(db, member)
    for row in rows:
        db.delete(row)
    db.flush()
    return len(rows)


@dataclass(frozen=True)
class PhaseTotals:
    """One phase as the facilitator may see it: how many have answered so far, when answers
    close, and, once they have closed, the totals frozen then (None if too few to show)."""

    phase: str
    answered: int  # members who have answered so far, whether or not they count
    members: int  # active members
    closes_at: datetime | None
    closed_at: datetime | None  # None while answers are open
    counted: int  # answers in the frozen totals: members who came to a session
    counts: dict[str, tuple[int, int, int, int]] | None  # None while open or below MIN_ANSWERS


def published_totals(
    db: Session, learning_set: LearningSet, dims: Sequence[str], now: datetime | None = None
) -> dict[str, PhaseTotals]:
    """Per phase, what the facilitator may see. A phase whose answers have closed is frozen the
    first time anyone asks (or a member answers or deletes), so what is shown never changes."""
    now = now or utcnow()
    freeze_closed(db, learning_set, dims, now)
    active = {m.id for m in learning_set.members if m.active}
    answered = answered_by(db, learning_set)
    return {
        phase: _phase_totals(phase_row(db, learning_set, phase), phase, answered[phase], active)
        for phase in PHASES
    }


def _phase_totals(
    row: AssessmentPhase | None, phase: str, answered: set[int], active: set[int]
) -> PhaseTotals:
    closed = row is not None and row.closed_at is not None
    counts = None
    if closed and row.totals:
        counts = {d: tuple(levels) for d, levels in json.loads(row.totals).items()}
    return PhaseTotals(
        phase=phase,
        answered=len(answered & active),
        members=len(active),
        closes_at=row.closes_at if row else None,
        closed_at=row.closed_at if closed else None,
        counted=row.counted if closed else 0,
        counts=counts,
    )


def answered_by(db: Session, learning_set: LearningSet) -> dict[str, set[int]]:
    """Per phase, the ids of the set's members who have answered it."""
    ids = [m.id for m in learning_set.members]
    rows = db.execute(
        select(SelfRating.phase, SelfRating.member_id).where(SelfRating.member_id.in_(ids))
    )
    found: dict[str, set[int]] = {phase: set() for phase in PHASES}
    for phase, member_id in rows:
        found.setdefault(phase, set()).add(member_id)
    return found


def came_to_a_session(learning_set: LearningSet) -> set[int]:
    """The members marked present at one of the set's sessions: only their answers count, so
    members added at addresses someone controls cannot make up the numbers."""
    return {
        a.member_id for m in learning_set.meetings for a in m.attendance if a.status == "present"
    }


def phase_row(db: Session, learning_set: LearningSet, phase: str) -> AssessmentPhase | None:
    return db.scalar(
        select(AssessmentPhase).where(
            AssessmentPhase.set_id == learning_set.id, AssessmentPhase.phase == phase
        )
    )


def is_closed(
    row: AssessmentPhase | None, learning_set: LearningSet, answered: set[int], now: datetime
) -> bool:
    """Whether a phase's answers have closed: frozen already, past its closing date, or every
    active member has come to a session and answered."""
    if row is not None and (row.closed_at is not None or (row.closes_at and row.closes_at <= now)):
        return True
    active = {m.id for m in learning_set.members if m.active}
    return bool(active) and active <= answered & came_to_a_session(learning_set)


def freeze_closed(
    db: Session, learning_set: LearningSet, dims: Sequence[str], now: datetime | None = None
) -> None:
    """Freeze the totals of every phase whose answers have closed and that is not frozen yet."""
    now = now or utcnow()
    answered = answered_by(db, learning_set)
    for phase in PHASES:
        row = phase_row(db, learning_set, phase)
        if (row is None or row.closed_at is None) and is_closed(
            row, learning_set, answered[phase], now
        ):
            _freeze(db, row or _new_phase_row(db, learning_set, phase), learning_set, dims, now)


def _new_phase_row(db: Session, learning_set: LearningSet, phase: str) -> AssessmentPhase:
    """The phase's row, made now unless another request made it first."""
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    values = {"set_id": learning_set.id, "phase": phase, "counted": 0, "totals": ""}
    db.execute(dialect.insert(AssessmentPhase).values(**values).on_conflict_do_nothing())
    return phase_row(db, learning_set, phase)


def _freeze(
    db: Session, row: AssessmentPhase, learning_set: LearningSet, dims: Sequence[str], now: datetime
) -> None:
    """Work out the phase's totals once and keep them; a second freezer at once changes nothing
    (the row is claimed by the update that finds it still open)."""
    counted, counts = _count(db, learning_set, row, dims)
    totals = json.dumps(counts, sort_keys=True) if counted >= MIN_ANSWERS else ""
    db.execute(
        update(AssessmentPhase)
        .where(AssessmentPhase.id == row.id, AssessmentPhase.closed_at.is_(None))
        .values(closed_at=now, counted=counted, totals=totals)
        .execution_options(synchronize_session=False)
    )
    db.refresh(row)


def _count(
    db: Session, learning_set: LearningSet, row: AssessmentPhase, dims: Sequence[str]
) -> tuple[int, dict[str, list[int]]]:
    """How many members who came to a session answered the phase (before any closing date),
    and how many of them chose each level of each dimension."""
    counted = came_to_a_session(learning_set)
    query = select(SelfRating).where(
        SelfRating.member_id.in_(counted), SelfRating.phase == row.phase
    )
    if row.closes_at is not None:
        query = query.where(SelfRating.recorded_at <= row.closes_at)
    ratings = list(db.scalars(query))
    counts = {d: [0, 0, 0, 0] for d in dims}
    for rating in ratings:
        if rating.dimension in counts and 1 <= rating.level <= 4:
            counts[rating.dimension][rating.level - 1] += 1
    return len({r.member_id for r in ratings}), counts


def set_closing_date(
    db: Session, learning_set: LearningSet, phase: str, day: date, now: datetime | None = None
) -> datetime:
    """Close a phase's answers at the end of `day` in the set's time zone; returns the moment.
    A phase already closed keeps its totals: its date can no longer change."""
    now = now or utcnow()
    if phase not in PHASES:
        raise SetError("choose the start or the end of the programme")
    zone = ZoneInfo(learning_set.time_zone)
    if day < now.astimezone(zone).date():
        raise SetError("Choose today or a later date: answers cannot close in the past")
    row = phase_row(db, learning_set, phase)
    if row is not None and is_closed(row, learning_set, set(), now):
        raise SetError("Answers for this point have closed and their totals are fixed")
    row = row or _new_phase_row(db, learning_set, phase)
    row.closes_at = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    db.flush()
    return row.closes_at


def last_open_day(closes_at: datetime, zone: ZoneInfo) -> date:
    """The last day answers are open, in the set's time zone (they close at its end)."""
    return (closes_at.astimezone(zone) - timedelta(seconds=1)).date()


def link_letter(member: Member, learning_set: LearningSet, url: str, nudge: bool = False) -> Letter:
    """The e-mail with a member's private link (`nudge`: the one reminder to answer)."""
    about = f"This is your private link for the leadership self-assessment in {learning_set.title}:"
    if nudge:
        about = (
            "A reminder: you have not yet answered the leadership self-assessment in "
            f"{learning_set.title}. It takes about ten minutes. Your private link:"
        )
    paragraphs = [
        greeting(member.name),
        about,
        Link(url, url),
        "Rate yourself on the nine dimensions of the Healthcare Leadership Model at the start of "
        "the programme, and again at the end, to see how you have changed. Your ratings are yours: "
        f"your facilitator sees only the set's anonymous totals. {PRIVACY} You can delete your "
        "ratings at any time through the same link.",
        "Keep this link to yourself: anyone who has it can see and change your ratings. If "
        "someone else may have it, open it and choose to replace it: the old link then stops "
        "working.",
    ]
    subject = f"Your leadership self-assessment: {learning_set.title}"
    if nudge:
        subject = f"Reminder: {subject[0].lower()}{subject[1:]}"
    return render(subject, subject, [Section(paragraphs=tuple((p,) for p in paragraphs))])


def chart_svg(ratings: dict[str, dict[str, int]], frameworks: Frameworks) -> str:
    """A before/after bar chart of one member's ratings (start light, end dark)."""
    width, label_width, bar, gap = 640, 250, 11, 10
    rows = frameworks.hlm.areas
    height = 40 + len(rows) * (2 * bar + gap)
    unit = (width - label_width - 20) / 4
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-labelledby="chart-title">',
        '<title id="chart-title">Your ratings at the start (light) and the end (dark)</title>',
    ]
    for n, level in enumerate(LEVELS, 1):
        x = label_width + unit * n
        parts.append(f'<text x="{x:.0f}" y="14" font-size="11" text-anchor="end">{level}</text>')
    for i, area in enumerate(rows):
        y = 24 + i * (2 * bar + gap)
        parts.append(f'<text x="0" y="{y + bar + 4}" font-size="13">{escape(area.name)}</text>')
        for j, (phase, colour) in enumerate((("start", "#aecbe8"), ("end", "#005eb8"))):
            level = ratings.get(phase, {}).get(area.id, 0)
            parts.append(
                f'<rect x="{label_width}" y="{y + j * bar}" width="{unit * level:.0f}" '
                f'height="{bar - 1}" fill="{colour}"><title>{phase}: {level or "not rated"}'
                "</title></rect>"
            )
    parts.append("</svg>")
    return "".join(parts)
