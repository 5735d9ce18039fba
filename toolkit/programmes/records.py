"""Programme records: create and change them, name their leads, and find them by id or title."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from toolkit import limits
from toolkit.casebank import SLUG
from toolkit.models import LearningSet, Programme, User
from toolkit.sets import SetError, check_version, free_slug, line

MAX_THRESHOLD = 100


def all_programmes(db: Session) -> list[Programme]:
    """Every programme, by year then title."""
    return list(db.scalars(select(Programme).order_by(Programme.year, Programme.title)))


def programmes_for(db: Session, user: User) -> list[Programme]:
    """The programmes whose page a user may open: every one for an admin, else those they lead."""
    return [p for p in all_programmes(db) if may_see(user, p)]


def may_see(user: User, programme: Programme) -> bool:
    """Admins and the programme's own leads see its page, reports and exports."""
    return user.is_admin or any(lead.id == user.id for lead in programme.leads)


def programme_names(db: Session) -> set[str]:
    """Every programme's id and title: what a learning-set file may name as its programme."""
    rows = db.execute(select(Programme.id, Programme.title)).all()
    return {value for row in rows for value in row}


def programme_named(db: Session, name: str) -> Programme | None:
    """The programme a learning-set file names: by id, else by title; an older file's free-text
    programme that matches neither becomes a programme with that title."""
    if not name:
        return None
    found = db.get(Programme, name)
    found = found or db.scalar(select(Programme).where(Programme.title == name))
    if found is None:
        found = Programme(id=free_slug(db, name, Programme.id), title=name, year="")
        db.add(found)
        db.flush()
    return found


def create_programme(db: Session, programme_id: str, title: str, year: str = "") -> Programme:
    """Add a programme; SetError for a bad or taken id, or a title or year out of bounds."""
    programme_id = programme_id.strip()
    if len(programme_id) > limits.SLUG or not re.fullmatch(SLUG, programme_id):
        raise SetError("Give the programme a short id of lower-case letters, digits and hyphens")
    if db.get(Programme, programme_id) is not None:
        raise SetError(f"A programme with the id '{programme_id}' already exists")
    programme = Programme(id=programme_id, follow_up_below=75)
    _details(programme, title, year)
    db.add(programme)
    db.flush()
    return programme


def change_programme(
    db: Session, programme: Programme, version: int, title: str, year: str, leads: list[User]
) -> None:
    """Change a programme's title, year and leads (optimistic locking on `version`)."""
    check_version(programme, version)
    _details(programme, title, year)
    programme.leads = sorted(set(leads), key=lambda u: u.id)
    db.flush()


def set_threshold(db: Session, programme: Programme, version: int, percent: int) -> None:
    """The attendance rate (percent) below which the page lists a member to follow up."""
    check_version(programme, version)
    if not 0 <= percent <= MAX_THRESHOLD:
        raise SetError("Give a percentage from 0 to 100")
    programme.follow_up_below = percent
    db.flush()


def _details(programme: Programme, title: str, year: str) -> None:
    programme.title = line(title, limits.PROGRAMME, "title")
    if not programme.title:
        raise SetError("Give the programme a title")
    programme.year = line(year, limits.PROGRAMME_YEAR, "year")


def sets_of(db: Session, programme: Programme) -> list[LearningSet]:
    """The programme's sets, by title."""
    query = select(LearningSet).where(LearningSet.programme_id == programme.id)
    return list(db.scalars(query.order_by(LearningSet.title)))
