"""What goes into a session's printed documents, gathered once from the session record."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import segno
from sqlalchemy.orm import Session

from toolkit import sets
from toolkit.casebank import (
    LEVELS,
    QUESTION_STAGE_LABELS,
    QUESTION_STAGES,
    Bank,
    Case,
    ParticipantCase,
    Resource,
)
from toolkit.frameworks import Frameworks
from toolkit.models import Meeting
from toolkit.resources import catalogue, session_resources

PROCESS_REVIEW_QUESTIONS = (
    "What did we learn today about the issues we worked on?",
    "What did we learn about ourselves as leaders?",
    "How well did our questions help each presenter think for themselves?",
    "When did we slip into advice or rescuing, and what did that do?",
    "What will we do differently at the next meeting?",
)


# Columns a facilitator may add to the sign-in register, by the name the print form sends.
REGISTER_COLUMNS = {"gmc": "GMC number", "arrival": "Arrival time"}


@dataclass(frozen=True)
class AgendaRow:
    """One agenda block as printed."""

    start: str
    end: str
    minutes: int
    title: str
    kind: str
    presenter: str
    notes: str  # facilitator only
    handout: bool


@dataclass(frozen=True)
class Person:
    """A member as printed on registers, handouts and certificates."""

    name: str
    grade: str


@dataclass(frozen=True)
class ActionRow:
    """An open action to review at this session."""

    member: str
    text: str
    due: str
    support: str


@dataclass(frozen=True)
class PromptRow:
    """A prompt as printed, grouped later by questioning stage."""

    stage: str
    text: str
    audience: str


@dataclass(frozen=True)
class ResourceRow:
    """A pre-work or reading item as printed, with a QR code so a phone can follow the link."""

    title: str
    kind: str
    minutes: int
    url: str
    description: str
    qr_svg: str


def qr_svg(url: str) -> str:
    """An inline SVG QR code for `url` (segno), sized for print."""
    code = segno.make(url, error="m")
    return code.svg_inline(scale=2.2, border=2, title=f"QR code for {url}")


def _resource_row(resource: Resource) -> ResourceRow:
    return ResourceRow(
        resource.title,
        resource.kind,
        resource.minutes,
        resource.url,
        resource.description,
        qr_svg(resource.url),
    )


@dataclass(frozen=True)
class Pack:
    """Everything the session's documents print; `for_participants()` strips facilitator content."""

    set_title: str
    programme: str
    facilitators: str
    number: int
    count: int
    title: str
    day: str
    start: str
    end: str
    time_zone: str
    venue: str
    video_url: str
    status: str
    minutes: int
    members: tuple[Person, ...]
    present: tuple[Person, ...]
    agenda: tuple[AgendaRow, ...]
    ground_rules: tuple[str, ...]
    rota: tuple[tuple[str, str], ...]
    actions: tuple[ActionRow, ...]
    cases: tuple[Case | ParticipantCase, ...]
    prompts: tuple[PromptRow, ...]
    areas: tuple[str, ...]
    headline_areas: tuple[str, ...]  # HLM dimensions, MLCF domains, GPC domains
    overrun: str
    prework: tuple[ResourceRow, ...] = ()
    reading: tuple[ResourceRow, ...] = ()
    statements: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (dimension, statement per level)
    participant: bool = False
    register: tuple[str, ...] = ()  # extra columns of the sign-in register (REGISTER_COLUMNS)
    set_id: int = 0  # where the set's PDFs are cached, so deleting its data can remove them

    @property
    def prework_minutes(self) -> int:
        """Total time the pre-work takes."""
        return sum(r.minutes for r in self.prework)

    @property
    def self_assessment(self) -> bool:
        """The first and the final meeting carry the self-assessment sheet."""
        return bool(self.statements) and self.number in (1, self.count)

    @property
    def hours(self) -> str:
        """Hours of learning for CPD (1 credit = 1 hour), e.g. "3.25"."""
        return f"{self.minutes / 60:.2f}".rstrip("0").rstrip(".")

    @property
    def running_title(self) -> str:
        """The running header: set and session."""
        return f"{self.set_title} · Session {self.number}: {self.title}"

    def prompts_by_stage(self) -> list[tuple[str, list[PromptRow]]]:
        """Prompts grouped by questioning stage (its plain-words label), in the order used."""
        groups = [(s, [p for p in self.prompts if p.stage == s]) for s in QUESTION_STAGES]
        return [(QUESTION_STAGE_LABELS[stage], rows) for stage, rows in groups if rows]

    def with_register(self, chosen: list[str]) -> Pack:
        """The same pack with the register columns chosen on the print form (unknown ones are
        ignored), in the order the form lists them."""
        return replace(self, register=tuple(c for c in REGISTER_COLUMNS if c in chosen))

    @property
    def register_headings(self) -> tuple[str, ...]:
        """The headings of the register's extra columns."""
        return tuple(REGISTER_COLUMNS[c] for c in self.register)

    def for_participants(self) -> Pack:
        """The same pack without facilitator notes, facilitator-only blocks or prompts."""
        return replace(
            self,
            agenda=tuple(replace(r, notes="") for r in self.agenda if r.handout),
            cases=tuple(c.for_participants() if isinstance(c, Case) else c for c in self.cases),
            prompts=tuple(p for p in self.prompts if p.audience == "participants"),
            actions=(),
            overrun="",
            participant=True,
        )


def _clock(when: datetime) -> str:
    return when.strftime("%H:%M")


def build_pack(
    db: Session, meeting: Meeting, bank: Bank, frameworks: Frameworks, now: datetime | None = None
) -> Pack:
    """Gather a session's printable content from the database and the bank; nobody counts as
    present (so there are no certificates) until the session has started."""
    learning_set = meeting.learning_set
    names = {m.id: m.name for m in learning_set.members}
    start = sets.local(meeting)
    over = sets.overrun(meeting)
    cases, prompts = _cases_and_prompts(meeting, bank)
    present_ids = {a.member_id for a in meeting.attendance if a.status == "present"}
    if not sets.has_started(meeting, now):
        present_ids = set()
    library = catalogue(db, bank)
    number, count = sets.session_of(meeting)
    return Pack(
        set_title=learning_set.title,
        programme=learning_set.programme_title,
        facilitators=", ".join(f.name for f in learning_set.facilitators),
        number=number,
        count=count,
        title=meeting.title,
        day=f"{start:%A} {start.day} {start:%B %Y}",
        start=_clock(start),
        end=_clock(start + timedelta(minutes=meeting.minutes)),
        time_zone=learning_set.time_zone,
        venue=meeting.venue or learning_set.venue,
        video_url=meeting.video_url or learning_set.video_url,
        status=meeting.status,
        minutes=meeting.minutes,
        members=tuple(Person(m.name, m.grade) for m in sets.active_members(learning_set)),
        present=tuple(Person(m.name, m.grade) for m in learning_set.members if m.id in present_ids),
        agenda=tuple(_agenda_row(t, names) for t in sets.agenda(meeting)),
        ground_rules=tuple(r for r in learning_set.ground_rules.splitlines() if r.strip()),
        rota=tuple(
            (b.title, names.get(b.presenter_id, "to be agreed"))
            for b in meeting.blocks
            if b.kind == "presenter"
        ),
        actions=tuple(
            ActionRow(names.get(a.member_id, "Former member"), a.text, a.due, a.support)
            for a in sets.actions_to_review(db, meeting)
        ),
        cases=cases,
        prompts=tuple(PromptRow(p.stage, p.text, p.audience) for p in prompts),
        areas=_areas(cases, prompts, frameworks),
        headline_areas=_areas(cases, prompts, frameworks, headline=True),
        overrun=over.message() if over else "",
        prework=tuple(_resource_row(r) for r in session_resources(meeting, library, "prework")),
        reading=tuple(_resource_row(r) for r in session_resources(meeting, library, "reading")),
        statements=tuple(
            (a.name, tuple(bank.statements[a.id][level] for level in LEVELS))
            for a in frameworks.hlm.areas
            if a.id in bank.statements
        ),
        set_id=learning_set.id,
    )


def _agenda_row(timed, names: dict[int, str]) -> AgendaRow:
    b = timed.block
    return AgendaRow(
        start=_clock(timed.start),
        end=_clock(timed.end),
        minutes=b.minutes,
        title=b.title,
        kind=b.kind,
        presenter=names.get(b.presenter, "") if b.presenter else "",
        notes=b.notes,
        handout=b.handout,
    )


def _cases_and_prompts(meeting: Meeting, bank: Bank) -> tuple[tuple, tuple]:
    cases = tuple(bank.cases[c.case_id] for c in meeting.cases if c.case_id in bank.cases)
    prompts = tuple(
        bank.prompts[p.prompt_id] for p in meeting.prompts if p.prompt_id in bank.prompts
    )
    return cases, prompts


def _tagged(cases, prompts, frameworks: Frameworks, headline: bool) -> dict[str, set[str]]:
    """Per framework key, the ids of the areas the cases and prompts are tagged with;
    `headline` folds MLCF elements into their domains, for certificates."""
    found = {}
    for framework in frameworks:
        tagged = {t for item in (*cases, *prompts) for t in getattr(item.tags, framework.key)}
        found[framework.key] = {t.split(".")[0] for t in tagged} if headline else tagged
    return found


def _areas(cases, prompts, frameworks: Frameworks, headline: bool = False) -> tuple[str, ...]:
    """Labels of the framework areas the cases and prompts are tagged with, in framework order."""
    tagged = _tagged(cases, prompts, frameworks, headline)
    return tuple(
        f"{framework.short} {a.label}"
        for framework in frameworks
        for a in framework.areas
        if a.id in tagged[framework.key]
    )


def headline_areas(meeting: Meeting, bank: Bank, frameworks: Frameworks) -> dict[str, set[str]]:
    """Per framework key, the ids of the headline areas (HLM dimensions, MLCF domains, GPC
    domains) a session covers: the areas its certificates name."""
    return _tagged(*_cases_and_prompts(meeting, bank), frameworks, headline=True)
