"""Members of a set: adding, correcting, removing and deleting their personal data."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from toolkit import limits
from toolkit.models import (
    Action,
    LearningSet,
    Member,
    SentInvite,
)
from toolkit.sets.base import SetError, check_room, line, touch
from toolkit.sets.member_list import read_member_list
from toolkit.sets.rota import refresh_rota
from toolkit.text import one_line


def add_member(
    db: Session, learning_set: LearningSet, name: str, email: str, grade: str = ""
) -> Member:
    """Add a member; an invalid e-mail, or one already in the set, is refused."""
    from toolkit.accounts import check_email  # (accounts loads e-mail validation and hashing)

    try:
        email = check_email(email)
    except ValueError as exc:
        raise SetError(str(exc)) from None
    if any(m.email == email for m in learning_set.members):
        raise SetError(f"{email} is already a member of this set")
    check_room(len(learning_set.members), limits.MEMBERS, "members")
    name, grade = line(name, limits.NAME, "name"), line(grade or "", limits.GRADE, "grade")
    member = Member(name=name, email=email, grade=grade)
    learning_set.members.append(member)
    touch(learning_set)
    db.flush()
    refresh_rota(db, learning_set)
    return member


def add_members(db: Session, learning_set: LearningSet, text: str) -> list[Member]:
    """Add everyone a pasted list would add (see `read_member_list`), all or none; the list is
    read again here, so a change since the preview is never overlooked."""
    existing = [m.email for m in learning_set.members]
    found = read_member_list(text, existing, limits.MEMBERS - len(existing))
    if not found.add:
        raise SetError("Nobody on the list can be added; the preview says why for each line.")
    return [add_member(db, learning_set, m.name, m.email, m.grade) for m in found.add]


def delete_member(db: Session, member: Member) -> None:
    """Remove a member and their personal data everywhere; presence stays as anonymous counts."""
    for meeting in member.learning_set.meetings:
        if any(a.member_id == member.id and a.status == "present" for a in meeting.attendance):
            meeting.anonymous_present += 1
    for row in db.scalars(select(SentInvite).where(SentInvite.member_id == member.id)):
        row.email, row.member_id = "", None
    for action in db.scalars(select(Action).where(Action.member_id == member.id)):
        action.member_id = None
    learning_set = member.learning_set
    learning_set.members.remove(member)
    touch(learning_set)
    db.flush()
    refresh_rota(db, learning_set)


def remove_member(db: Session, member: Member) -> None:
    """Take a member off the set, keeping their history; later sessions' rota closes the gap."""
    member.active = False
    touch(member.learning_set)
    db.flush()
    refresh_rota(db, member.learning_set)


def update_member(db: Session, member: Member, name: str, grade: str) -> None:
    """Correct a member's name or grade (their e-mail is how invites reach them: remove and add
    them again to change it)."""
    if not one_line(name or ""):
        raise SetError("enter the member's name")
    member.name = line(name, limits.NAME, "name")
    member.grade = line(grade or "", limits.GRADE, "grade")
    touch(member.learning_set)
    db.flush()
