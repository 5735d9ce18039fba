"""A member's own reflections on the sessions they came to (What? So what? Now what?): written on
their page, read only by them, into their portfolio record. No facilitator page, pack or set
file reads this table."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from toolkit import limits, sets
from toolkit.models import Meeting, Member, Reflection, utcnow
from toolkit.sets import SetError

# each part's form field, its question, and a hint of what it asks
PARTS = (
    ("what", "What?", "What happened at the session, and what did you bring or hear?"),
    ("so_what", "So what?", "What does it mean for you and your practice? What did you learn?"),
    ("now_what", "Now what?", "What will you do next, and how will you know it made a difference?"),
)


@dataclass(frozen=True)
class Written:
    """A reflection's three parts (empty strings when not written)."""

    what: str = ""
    so_what: str = ""
    now_what: str = ""

    @property
    def empty(self) -> bool:
        return not (self.what or self.so_what or self.now_what)


def attended(member: Member, now=None) -> list[Meeting]:
    """The sessions the member is recorded as present at, in order (held, not cancelled)."""
    return [
        m
        for m in sets.meetings_in_order(member.learning_set)
        if m.status != "cancelled"
        and sets.has_started(m, now)
        and any(a.member_id == member.id and a.status == "present" for a in m.attendance)
    ]


def reflections_of(db: Session, member: Member) -> dict[int, Written]:
    """The member's reflections by meeting id."""
    rows = db.scalars(select(Reflection).where(Reflection.member_id == member.id))
    return {r.meeting_id: Written(r.what, r.so_what, r.now_what) for r in rows}


def save_reflection(db: Session, member: Member, meeting: Meeting, form: dict[str, str]) -> None:
    """Write (or rewrite) the member's reflection on a session they came to; all three parts
    empty deletes it."""
    if meeting not in attended(member):
        raise SetError("You can write a reflection on a session you are recorded as coming to.")
    parts = {
        field: sets.text_field(form.get(field, ""), limits.REFLECTION, f'answer to "{question}"')
        for field, question, _hint in PARTS
    }
    row = db.get(Reflection, (member.id, meeting.id))
    if not any(parts.values()):
        if row is not None:
            db.delete(row)
        db.flush()
        return
    row = row or Reflection(member_id=member.id, meeting_id=meeting.id)
    for field, value in parts.items():
        setattr(row, field, value)
    row.updated_at = utcnow()
    db.add(row)
    db.flush()
