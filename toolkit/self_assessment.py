"""HLM-style self-assessment: members' own ratings through a private link; anonymous totals."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from html import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from toolkit.casebank import LEVELS
from toolkit.frameworks import Frameworks
from toolkit.letters import Link, Section, greeting, render
from toolkit.mail import Letter
from toolkit.models import LearningSet, Member, SelfRating
from toolkit.sets import SetError

PHASES = ("start", "end")
MIN_ANSWERS = 4  # totals stay hidden until this many members have answered a phase


def ensure_token(member: Member) -> str:
    """The member's private link token, made on first use."""
    if not member.assessment_token:
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


def unanswered(ratings: dict[str, int], dims) -> list[str]:
    """The dimensions without a level from 1 to 4, in the form's order."""
    return [d for d in dims if ratings.get(d) not in (1, 2, 3, 4)]


def save_ratings(db: Session, member: Member, phase: str, ratings: dict[str, int], dims) -> None:
    """Replace the member's ratings for a phase; every dimension needs a level from 1 to 4."""
    if phase not in PHASES:
        raise SetError("choose the start or the end of the programme")
    missing = unanswered(ratings, dims)
    if missing:
        raise SetError(f"rate every dimension ({len(missing)} still to do)")
    existing = {r.dimension: r for r in _rows(db, member) if r.phase == phase}
    for dimension in dims:
        row = existing.get(dimension) or SelfRating(
            member_id=member.id, phase=phase, dimension=dimension
        )
        row.level = ratings[dimension]
        db.add(row)
    db.flush()


def _rows(db: Session, member: Member) -> list[SelfRating]:
    return list(db.scalars(select(SelfRating).where(SelfRating.member_id == member.id)))


def ratings_of(db: Session, member: Member) -> dict[str, dict[str, int]]:
    """{phase: {dimension: level}} for one member."""
    found: dict[str, dict[str, int]] = {}
    for row in _rows(db, member):
        found.setdefault(row.phase, {})[row.dimension] = row.level
    return found


def delete_ratings(db: Session, member: Member) -> int:
    """Delete every rating the member made; returns how many."""
    rows = _rows(db, member)
    for row in rows:
        db.delete(row)
    db.flush()
    return len(rows)


@dataclass(frozen=True)
class Totals:
    """Anonymous counts per dimension and level for one phase."""

    answered: int
    counts: dict[str, tuple[int, int, int, int]] | None  # None until MIN_ANSWERS have answered


def set_totals(db: Session, learning_set: LearningSet, dims) -> dict[str, Totals]:
    """Per phase: how many members answered and, from four answers, counts per level."""
    ids = [m.id for m in learning_set.members]
    rows = list(db.scalars(select(SelfRating).where(SelfRating.member_id.in_(ids))))
    totals = {}
    for phase in PHASES:
        mine = [r for r in rows if r.phase == phase]
        answered = len({r.member_id for r in mine})
        counts = None
        if answered >= MIN_ANSWERS:
            counts = {
                d: tuple(
                    sum(1 for r in mine if r.dimension == d and r.level == n) for n in (1, 2, 3, 4)
                )
                for d in dims
            }
        totals[phase] = Totals(answered, counts)
    return totals


def link_letter(member: Member, learning_set: LearningSet, url: str) -> Letter:
    """The e-mail with a member's private link."""
    about = f"This is your private link for the leadership self-assessment in {learning_set.title}:"
    paragraphs = [
        greeting(member.name),
        about,
        Link(url, url),
        "Rate yourself on the nine dimensions of the Healthcare Leadership Model at the start of "
        "the programme, and again at the end, to see how you have changed. Your ratings are yours: "
        "your facilitator sees only the set's anonymous totals, and only once at least four "
        "members have answered. You can delete your ratings at any time through the same link.",
        "Keep this link to yourself: anyone who has it can see and change your ratings.",
    ]
    subject = f"Your leadership self-assessment: {learning_set.title}"
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
