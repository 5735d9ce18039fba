"""A pasted list of members ("Name, email, grade" per line, or spreadsheet rows): what would be
added and what is refused, line by line, before anything is saved. Plain Python, no database."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from toolkit import limits
from toolkit.text import one_line

HEADINGS = {"name", "full name", "email", "e-mail", "email address", "e-mail address", "grade"}
_NAMED_ADDRESS = re.compile(r"^(.*?)\s*<([^<>]+@[^<>]+)>$")  # "Zoë Marsh <zoe@example.nhs.uk>"


@dataclass(frozen=True)
class NewMember:
    """One member the list would add, with the line they came from."""

    line: int
    name: str
    email: str
    grade: str


@dataclass(frozen=True)
class Refused:
    """A line that adds nobody, and why, in a sentence."""

    line: int
    text: str
    reason: str


@dataclass
class MemberList:
    """The outcome of reading a pasted list: members to add and lines refused."""

    add: list[NewMember] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)


def read_member_list(text: str, existing: Iterable[str], room: int) -> MemberList:
    """Read one member per line; `existing` are e-mails already in the set, `room` how many
    more it can take. Blank lines are skipped; every other line is added or refused."""
    taken = {e.lower(): 0 for e in existing}
    found = MemberList()
    for number, raw in enumerate(text.splitlines(), 1):
        if not one_line(raw):
            continue
        entry = _entry(number, raw)
        if isinstance(entry, Refused):
            found.refused.append(entry)
            continue
        problem = _clash(entry, taken, len(found.add), room)
        if problem:
            found.refused.append(Refused(number, _shown(raw), problem))
            continue
        taken[entry.email.lower()] = number
        found.add.append(entry)
    return found


def _shown(raw: str) -> str:
    """The line as the preview shows it: on one line, and not too long to read."""
    text = one_line(raw.replace("\t", " · "))
    return text if len(text) <= 120 else text[:119] + "…"


def _clash(entry: NewMember, taken: dict[str, int], adding: int, room: int) -> str | None:
    """Why a well-formed line still adds nobody: already a member, repeated, or no room."""
    where = taken.get(entry.email.lower())
    if where == 0:
        return f"{entry.email} is already a member of this set."
    if where:
        return f"{entry.email} is also on line {where}; it is added once."
    if adding >= room:
        return f"A learning set can have at most {limits.MEMBERS} members; this one would be full."
    return None


def _fields(raw: str) -> list[str]:
    """A spreadsheet row splits at tabs; a typed line at commas or semicolons."""
    separator = "\t" if "\t" in raw else ";" if ";" in raw and "," not in raw else ","
    return [one_line(part) for part in raw.split(separator)]


def _entry(number: int, raw: str) -> NewMember | Refused:
    """One line as a member, or the reason it is not one."""
    parts = [p for p in _fields(raw) if p]
    if {p.lower() for p in parts} <= HEADINGS:
        return Refused(number, _shown(raw), "This looks like a heading row, so it was skipped.")
    parts = _split_named_address(parts)
    emails = [p for p in parts if "@" in p]
    if len(emails) != 1:
        few = "has no e-mail address" if not emails else "has more than one e-mail address"
        return Refused(number, _shown(raw), f"This line {few}; give one per member.")
    others = [p for p in parts if p is not emails[0]]
    return _member(number, raw, emails[0], others)


def _split_named_address(parts: list[str]) -> list[str]:
    """ "Name <address>" (as copied from an e-mail) becomes the name and the address."""
    out: list[str] = []
    for part in parts:
        named = _NAMED_ADDRESS.match(part)
        out += [p for p in named.groups() if p] if named else [part]
    return out


def _member(number: int, raw: str, email: str, others: list[str]) -> NewMember | Refused:
    """Check the name, grade and address of a line that has exactly one address."""
    shown = _shown(raw)
    if not others:
        return Refused(number, shown, "This line has no name; put the name before the e-mail.")
    if len(others) > 2:
        return Refused(
            number, shown, "This line has too many parts; give name, e-mail and grade only."
        )
    name, grade = others[0], others[1] if len(others) > 1 else ""
    from toolkit.accounts import check_email  # (accounts loads e-mail validation and hashing)

    try:
        email = check_email(email)
    except ValueError:
        return Refused(number, shown, f"The e-mail address “{one_line(email)[:80]}” is not valid.")
    if len(name) > limits.NAME:
        return Refused(number, shown, f"The name is longer than {limits.NAME} characters.")
    if len(grade) > limits.GRADE:
        return Refused(number, shown, f"The grade is longer than {limits.GRADE} characters.")
    return NewMember(number, name, email, grade)
