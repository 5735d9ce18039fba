"""The resource library: the bank's resources plus facilitators' own, and session pre-work."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from toolkit import limits
from toolkit.casebank import RESOURCE_KINDS, SLUG, Bank, Resource, Tags
from toolkit.frameworks import Frameworks, mlcf_covers
from toolkit.models import CustomResource, Meeting, MeetingResource, User
from toolkit.sets import SetError, check_room, line, next_position, touch

ROLES = ("prework", "reading")
ROLE_NAMES = {"prework": "pre-work", "reading": "further reading"}


def _custom(row: CustomResource) -> Resource:
    tags = Tags(tuple(row.hlm.split()), tuple(row.mlcf.split()), tuple(row.gpc.split()))
    return Resource(row.slug, row.title, row.url, row.kind, row.minutes, row.description, tags)


def catalogue(db: Session, bank: Bank) -> dict[str, Resource]:
    """Every resource: the bank's file first, then those facilitators added."""
    found = dict(bank.resources)
    for row in db.scalars(select(CustomResource).order_by(CustomResource.title)):
        found.setdefault(row.slug, _custom(row))
    return found


@dataclass(frozen=True)
class NewResource:
    """What a facilitator enters to add a resource."""

    title: str
    url: str
    kind: str
    minutes: int
    description: str
    hlm: tuple[str, ...] = ()
    mlcf: tuple[str, ...] = ()
    gpc: tuple[str, ...] = ()


def add_resource(
    db: Session, bank: Bank, frameworks: Frameworks, user: User, new: NewResource
) -> CustomResource:
    """Add a facilitator's own resource; its id is made from the title."""
    if not re.match(r"^https://\S+$", new.url):
        raise SetError("the address must start with https://")
    if new.kind not in RESOURCE_KINDS:
        raise SetError(f"kind must be one of {', '.join(RESOURCE_KINDS)}")
    for key in ("hlm", "mlcf", "gpc"):
        unknown = [t for t in getattr(new, key) if frameworks.by_key(key).get(t) is None]
        if unknown:
            raise SetError(f"unknown {key.upper()} id {unknown[0]}")
    title = line(new.title, limits.RESOURCE_TITLE, "title")
    row = CustomResource(
        slug=_free_slug(db, bank, title),
        title=title,
        url=line(new.url, limits.RESOURCE_URL, "address"),
        kind=new.kind,
        minutes=new.minutes,
        description=line(new.description, limits.DESCRIPTION, "description"),
        hlm=" ".join(new.hlm),
        mlcf=" ".join(new.mlcf),
        gpc=" ".join(new.gpc),
        created_by=user.id,
    )
    db.add(row)
    db.flush()
    return row


def _free_slug(db: Session, bank: Bank, title: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:100].strip("-") or "resource"
    taken = set(catalogue(db, bank))
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    assert re.match(SLUG, slug)
    return slug


def filter_resources(
    resources: dict[str, Resource],
    kind: str | None = None,
    hlm: str | None = None,
    mlcf: str | None = None,
    gpc: str | None = None,
    search: str | None = None,
) -> list[Resource]:
    """Resources matching every filter that is set, by title."""

    def keep(r: Resource) -> bool:
        text = f"{r.title} {r.description} {r.kind}".lower()
        return (
            (not kind or r.kind == kind)
            and (not hlm or hlm in r.tags.hlm)
            and (not mlcf or any(mlcf_covers(t, mlcf) for t in r.tags.mlcf))
            and (not gpc or gpc in r.tags.gpc)
            and (not search or all(w in text for w in search.lower().split()))
        )

    return sorted((r for r in resources.values() if keep(r)), key=lambda r: r.title.lower())


def session_resources(
    meeting: Meeting, resources: dict[str, Resource], role: str
) -> list[Resource]:
    """The meeting's pre-work or further reading, in the order the facilitator chose."""
    rows = sorted((r for r in meeting.resources if r.role == role), key=lambda r: r.position)
    return [resources[r.resource_id] for r in rows if r.resource_id in resources]


def attach_resource(
    db: Session, meeting: Meeting, resources: dict[str, Resource], resource_id: str, role: str
) -> None:
    """Set a resource as pre-work or further reading (attaching twice is harmless)."""
    if role not in ROLES:
        raise SetError("choose pre-work or further reading")
    if resource_id not in resources:
        raise SetError(f"no resource '{resource_id}' in the library")
    if any(r.resource_id == resource_id and r.role == role for r in meeting.resources):
        return
    same_role = [r for r in meeting.resources if r.role == role]
    check_room(len(same_role), limits.RESOURCES, f"{ROLE_NAMES[role]} items in a session")
    position = next_position(same_role)
    meeting.resources.append(MeetingResource(resource_id=resource_id, role=role, position=position))
    touch(meeting)
    db.flush()


def detach_resource(db: Session, meeting: Meeting, resource_id: str, role: str) -> None:
    """Take a resource off the session."""
    meeting.resources[:] = [
        r for r in meeting.resources if not (r.resource_id == resource_id and r.role == role)
    ]
    touch(meeting)
    db.flush()


def suggest_resources(
    meeting: Meeting, bank: Bank, resources: dict[str, Resource], limit: int = 5
) -> list[Resource]:
    """Resources sharing framework areas with the session's cases and prompts, best first."""
    tagged = [bank.cases[c.case_id].tags for c in meeting.cases if c.case_id in bank.cases]
    tagged += [
        bank.prompts[p.prompt_id].tags for p in meeting.prompts if p.prompt_id in bank.prompts
    ]
    hlm = {t for tags in tagged for t in tags.hlm}
    mlcf = {t.split(".")[0] for tags in tagged for t in tags.mlcf}
    gpc = {t for tags in tagged for t in tags.gpc}
    used = {r.resource_id for r in meeting.resources}

    def score(r: Resource) -> int:
        domains = {t.split(".")[0] for t in r.tags.mlcf}
        return len(hlm & set(r.tags.hlm)) + len(mlcf & domains) + len(gpc & set(r.tags.gpc))

    found = [r for r in resources.values() if r.id not in used and score(r) > 0]
    found.sort(key=lambda r: (-score(r), r.minutes, r.title))
    return found[:limit]
