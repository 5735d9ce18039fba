"""A member's learning set record for their ePortfolio: sessions attended with hours, framework
areas covered, their actions and outcomes, their certificates and their own reflections; as a
tagged A4 PDF and as plain text, both in headed sections that paste cleanly (no tables)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from toolkit import packs, sets
from toolkit.casebank import Bank
from toolkit.frameworks import Frameworks
from toolkit.members.page import own_actions
from toolkit.models import Member, utcnow
from toolkit.portfolio.reflections import PARTS, Written, attended, reflections_of

STATUS_WORDS = {"open": "Open", "done": "Done", "dropped": "Dropped"}


@dataclass(frozen=True)
class Attended:
    """One session the member came to, with its reflection (empty if none written)."""

    key: str
    label: str  # "Session 2: Giving feedback"
    when: str  # "Thursday 12 February 2037, 14:00 to 17:15 (Europe/London)"
    hours: str  # "3.25"
    minutes: int
    reflection: Written


@dataclass(frozen=True)
class ActionLine:
    text: str
    raised: str  # the session it was raised at, or ""
    due: str
    status: str
    outcome: str


@dataclass(frozen=True)
class Record:
    name: str
    grade: str
    set_title: str
    programme: str
    facilitators: str
    made_on: str
    sessions: tuple[Attended, ...]
    areas: tuple[tuple[str, tuple[str, ...]], ...]  # (framework's full name, area labels)
    actions: tuple[ActionLine, ...]

    @property
    def total_hours(self) -> str:
        return _hours(sum(s.minutes for s in self.sessions))

    @property
    def reflections(self) -> tuple[Attended, ...]:
        return tuple(s for s in self.sessions if not s.reflection.empty)


def _hours(minutes: int) -> str:
    return f"{minutes / 60:.2f}".rstrip("0").rstrip(".")


def build_record(
    db: Session, member: Member, bank: Bank, frameworks: Frameworks, now: datetime | None = None
) -> Record:
    """Everything the member's record holds, as it is now."""
    now = now or utcnow()
    learning_set = member.learning_set
    came = attended(member, now)
    written = reflections_of(db, member)
    sessions = []
    covered: dict[str, set[str]] = {f.key: set() for f in frameworks}
    for meeting in came:
        pack = packs.build_pack(db, meeting, bank, frameworks, now)
        sessions.append(
            Attended(
                key=meeting.key,
                label=f"Session {pack.number}: {meeting.title}",
                when=f"{pack.day}, {pack.start} to {pack.end} ({pack.time_zone})",
                hours=pack.hours,
                minutes=meeting.minutes,
                reflection=written.get(meeting.id, Written()),
            )
        )
        for key, ids in packs.headline_areas(meeting, bank, frameworks).items():
            covered[key] |= ids
    numbers = {m.id: sets.meeting_number(m) for m in learning_set.meetings}
    actions = tuple(
        ActionLine(
            a.text,
            f"Session {numbers[a.meeting_id]}" if a.meeting_id in numbers else "",
            a.due,
            STATUS_WORDS.get(a.status, a.status),
            a.outcome,
        )
        for a in own_actions(db, member)
    )
    today = now.astimezone(ZoneInfo(learning_set.time_zone))
    return Record(
        name=member.name,
        grade=member.grade,
        set_title=learning_set.title,
        programme=learning_set.programme_title,
        facilitators=", ".join(f.name for f in learning_set.facilitators),
        made_on=f"{today.day} {today:%B %Y}",
        sessions=tuple(sessions),
        areas=tuple(
            (f.name, tuple(a.label for a in f.areas if a.id in covered[f.key]))
            for f in frameworks
            if covered[f.key]
        ),
        actions=actions,
    )


def certificate_pdf(
    db: Session, member: Member, key: str, bank: Bank, frameworks: Frameworks
) -> bytes | None:
    """The member's own certificate of attendance for a session they came to (the packs'
    certificate, with only them on it), or None."""
    meeting = next((m for m in attended(member) if m.key == key), None)
    if meeting is None:
        return None
    pack = packs.build_pack(db, meeting, bank, frameworks)
    mine = replace(pack, present=(packs.Person(member.name, member.grade),))
    return packs.render_pdf(packs.render_html("certificates", mine))


_env = packs.render.templates("toolkit.portfolio")


def record_html(record: Record) -> str:
    return _env.get_template("record.html").render(r=record, parts=PARTS)


def record_pdf(record: Record) -> bytes:
    """The record as a tagged A4 PDF (not cached: it holds the member's own reflections)."""
    return packs.render_pdf(record_html(record))


def record_text(record: Record) -> str:
    """The record as plain text: a heading per section, then lines and "- " lists."""
    out = [
        "LEARNING SET RECORD",
        "",
        f"Name: {record.name}" + (f" ({record.grade})" if record.grade else ""),
        f"Learning set: {record.set_title}",
    ]
    out += [f"Programme: {record.programme}"] if record.programme else []
    out += [f"Facilitator: {record.facilitators}"] if record.facilitators else []
    out += [f"Record made on {record.made_on}"]
    out += ["", "SESSIONS ATTENDED", ""]
    out += [f"- {s.label}. {s.when}. {s.hours} hours." for s in record.sessions] or [
        "No sessions recorded yet."
    ]
    if record.sessions:
        count = len(record.sessions)
        out += ["", f"Total: {record.total_hours} hours over {count} session{'s' * (count != 1)}."]
    out += ["", "LEADERSHIP FRAMEWORK AREAS COVERED", ""]
    for name, labels in record.areas:
        out += [name, *(f"- {label}" for label in labels), ""]
    if not record.areas:
        out += ["None recorded yet.", ""]
    out += ["ACTIONS AND OUTCOMES", ""]
    for a in record.actions:
        raised = f" (raised at {a.raised})" if a.raised else ""
        due = f" By: {a.due}." if a.due else ""
        out += [f"- {a.text}{raised}. Status: {a.status}.{due}"]
        out += [f"  Outcome: {a.outcome}"] if a.outcome else []
    if not record.actions:
        out += ["No actions recorded."]
    out += ["", "CERTIFICATES OF ATTENDANCE", ""]
    out += [f"- {s.label}, {s.hours} hours: certificate on your page." for s in record.sessions]
    if not record.sessions:
        out += ["None yet."]
    out += ["", "MY REFLECTIONS", ""]
    for s in record.reflections:
        out += [s.label, ""]
        for field, question, _hint in PARTS:
            answer = getattr(s.reflection, field)
            if answer:
                out += [question, answer, ""]
    if not record.reflections:
        out += ["No reflections written yet.", ""]
    return "\n".join(out).rstrip() + "\n"
