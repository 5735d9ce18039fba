"""A programme's numbers, worked out once: the programme page, the report PDF and the exports all
read them from here, so they cannot disagree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.orm import Session

from toolkit import evaluations, invites, self_assessment, sets
from toolkit.casebank import Bank
from toolkit.frameworks import Frameworks
from toolkit.models import LearningSet, Meeting, Programme
from toolkit.programme_map import coverage
from toolkit.programmes.records import sets_of

FRAMEWORKS = ("hlm", "mlcf", "gpc")
NOT_RECORDED = "not recorded"


def percent(rate: float | None) -> str:
    """A rate as people read it: 0.755 is "76%" (halves round up), None is "–"."""
    if rate is None:
        return "–"
    whole = (Decimal(str(rate)) * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    return f"{whole}%"


def hours(minutes: int) -> float:
    """Minutes as hours to two places (150 minutes is 2.5)."""
    return round(minutes / 60, 2)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class SessionFigures:
    """One held session's register: how many were present of those recorded."""

    number: int
    date: str  # local date, YYYY-MM-DD
    title: str
    present: int
    apologies: int
    absent: int
    not_recorded: int

    @property
    def recorded(self) -> int:
        return self.present + self.apologies + self.absent

    @property
    def rate(self) -> float | None:
        return _rate(self.present, self.recorded)


@dataclass(frozen=True)
class AttendanceRow:
    """One member at one held session: a row of the attendance export."""

    programme: str
    set_title: str
    session: int
    date: str
    name: str
    email: str
    status: str  # present, apologies, absent or "not recorded"
    hours: float  # the session's length when present, else 0


@dataclass(frozen=True)
class MemberFigures:
    """One member's attendance across their set's held sessions."""

    set_title: str
    name: str
    email: str
    held: int
    recorded: int
    attended: int
    hours: float

    @property
    def rate(self) -> float | None:
        return _rate(self.attended, self.recorded)


Counts = dict[str, tuple[int, ...]]  # HLM dimension -> members at levels 1, 2, 3, 4


@dataclass(frozen=True)
class AssessmentChange:
    """The self-assessment start → end from the anonymous totals of closed phases with enough
    answers only (never anyone's own ratings): mean level (1 to 4) per HLM dimension."""

    counted_start: int
    counted_end: int
    counts_start: Counts
    counts_end: Counts

    def start(self, dimension: str) -> float:
        return _mean(self.counts_start.get(dimension, ()))

    def end(self, dimension: str) -> float:
        return _mean(self.counts_end.get(dimension, ()))

    def change(self, dimension: str) -> float:
        return round(self.end(dimension) - self.start(dimension), 2)


def _mean(levels: tuple[int, ...]) -> float:
    n = sum(levels)
    return round(sum((i + 1) * c for i, c in enumerate(levels)) / n, 2) if n else 0.0


@dataclass(frozen=True)
class RatingLine:
    """One rating question, pooled over released sessions: counts per point of the scale."""

    text: str
    counts: tuple[int, ...]  # "Strongly disagree" first

    @property
    def mean(self) -> float | None:
        n = sum(self.counts)
        return round(sum((i + 1) * c for i, c in enumerate(self.counts)) / n, 2) if n else None


@dataclass(frozen=True)
class EvaluationFigures:
    """Evaluation results pooled over the sessions whose results are released (closed with
    enough answers); no other session's answers count."""

    sessions: int
    answered: int
    ratings: tuple[RatingLine, ...]
    texts: tuple[tuple[str, tuple[str, ...]], ...]  # question, its answers sorted


def _evaluation(results: list[evaluations.SessionResults]) -> EvaluationFigures | None:
    if not results:
        return None
    ratings = tuple(
        RatingLine(
            first.text,
            tuple(sum(col) for col in zip(*(r.ratings[i].counts for r in results), strict=True)),
        )
        for i, first in enumerate(results[0].ratings)
    )
    texts = tuple(
        (
            first.text,
            tuple(sorted((a for r in results for a in r.texts[i].answers), key=str.casefold)),
        )
        for i, first in enumerate(results[0].texts)
    )
    return EvaluationFigures(len(results), sum(r.answered for r in results), ratings, texts)


@dataclass(frozen=True)
class SetFigures:
    """One set's line on the programme page, with its sessions."""

    slug: str
    title: str
    facilitators: str
    members: int
    held: int
    planned: int
    cancelled: int
    next_session: str
    out_of_date: int  # members holding an invite that is now wrong
    open_actions: int
    sessions: list[SessionFigures]
    assessment: AssessmentChange | None
    coverage: dict[tuple[str, str], int]  # (framework, area id) -> tags across the set's sessions
    evaluation: EvaluationFigures | None

    @property
    def present(self) -> int:
        return sum(s.present for s in self.sessions)

    @property
    def recorded(self) -> int:
        return sum(s.recorded for s in self.sessions)

    @property
    def rate(self) -> float | None:
        return _rate(self.present, self.recorded)


@dataclass(frozen=True)
class CoverageRow:
    """One framework area: tags per set, and in all."""

    framework: str
    area_id: str
    label: str
    per_set: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.per_set)


@dataclass(frozen=True)
class ProgrammeReport:
    """Everything the programme page, report and exports show."""

    programme_id: str
    title: str
    year: str
    follow_up_below: int  # percent
    sets: list[SetFigures]
    attendance: list[AttendanceRow]
    members: list[MemberFigures]
    coverage: list[CoverageRow]
    assessment: AssessmentChange | None
    dimensions: list[tuple[str, str]]  # HLM (id, label), for the self-assessment
    evaluation: EvaluationFigures | None

    @property
    def present(self) -> int:
        return sum(s.present for s in self.sets)

    @property
    def recorded(self) -> int:
        return sum(s.recorded for s in self.sets)

    @property
    def rate(self) -> float | None:
        return _rate(self.present, self.recorded)

    @property
    def follow_up(self) -> list[MemberFigures]:
        """Members whose attendance rate is below the lead's threshold: who to follow up."""
        below = Decimal(self.follow_up_below) / 100
        return [m for m in self.members if m.rate is not None and Decimal(m.rate) < below]

    def gaps(self, framework: str) -> list[CoverageRow]:
        """Areas of a framework that no session of any set has reached."""
        return [r for r in self.coverage if r.framework == framework and r.total == 0]


def programme_report(
    db: Session, programme: Programme, bank: Bank, frameworks: Frameworks, now: datetime
) -> ProgrammeReport:
    """Work out every number for a programme at `now`."""
    learning_sets = sets_of(db, programme)
    dims = [(a.id, a.label) for a in frameworks.hlm.areas]
    ids = [d for d, _ in dims]
    meeting_ids = [m.id for s in learning_sets for m in s.meetings]
    released = evaluations.released_for(db, meeting_ids, now=now)
    figures = [_set_figures(db, s, bank, frameworks, ids, now, released) for s in learning_sets]
    return ProgrammeReport(
        programme_id=programme.id,
        title=programme.title,
        year=programme.year,
        follow_up_below=programme.follow_up_below,
        sets=figures,
        attendance=[row for s in learning_sets for row in _attendance(programme, s, now)],
        members=[m for s in learning_sets for m in _members(s, now)],
        coverage=_coverage_rows(figures, frameworks),
        assessment=_pooled([f.assessment for f in figures]),
        dimensions=dims,
        evaluation=_evaluation([released[i] for i in sorted(released)]),
    )


def held_sessions(learning_set: LearningSet, now: datetime) -> list[tuple[int, Meeting]]:
    """The set's sessions that have started and were not cancelled, with their numbers."""
    return [
        (sets.meeting_number(m), m)
        for m in sets.meetings_in_order(learning_set)
        if m.status != "cancelled" and sets.has_started(m, now)
    ]


def _set_figures(
    db: Session,
    learning_set: LearningSet,
    bank: Bank,
    frameworks: Frameworks,
    dims: list[str],
    now: datetime,
    released: dict[int, evaluations.SessionResults],
) -> SetFigures:
    meetings = sets.meetings_in_order(learning_set)
    live = [m for m in meetings if m.status != "cancelled"]
    coming = [m for m in live if not sets.has_started(m, now)]
    cover = coverage(learning_set, bank, frameworks)
    return SetFigures(
        slug=learning_set.slug,
        title=learning_set.title,
        facilitators=", ".join(f.name for f in learning_set.facilitators),
        members=len(sets.active_members(learning_set)),
        held=len(live) - len(coming),
        planned=len(coming),
        cancelled=len(meetings) - len(live),
        next_session=sets.describe_start(coming[0]) if coming else "",
        out_of_date=invites.out_of_date_members(invites.pending_invites(db, learning_set, now=now)),
        open_actions=sum(1 for a in sets.actions_for(db, learning_set) if a.status == "open"),
        sessions=[_session_figures(n, m) for n, m in held_sessions(learning_set, now)],
        assessment=_assessment(db, learning_set, dims, now),
        coverage={
            (key, area_id): cover.total(key, area_id)
            for key in FRAMEWORKS
            for area_id, _ in cover.areas[key]
        },
        evaluation=_evaluation([released[m.id] for m in meetings if m.id in released]),
    )


def _statuses(meeting: Meeting) -> dict[int, str]:
    return {a.member_id: a.status for a in meeting.attendance}


def _session_figures(number: int, meeting: Meeting) -> SessionFigures:
    statuses = _statuses(meeting)
    members = sets.active_members(meeting.learning_set)
    found = [statuses.get(m.id, NOT_RECORDED) for m in members]
    return SessionFigures(
        number=number,
        date=f"{sets.local(meeting):%Y-%m-%d}",
        title=meeting.title,
        present=found.count("present"),
        apologies=found.count("apologies"),
        absent=found.count("absent"),
        not_recorded=found.count(NOT_RECORDED),
    )


def _attendance(programme: Programme, learning_set: LearningSet, now: datetime):
    held = held_sessions(learning_set, now)
    for member in sets.active_members(learning_set):
        for number, meeting in held:
            status = _statuses(meeting).get(member.id, NOT_RECORDED)
            yield AttendanceRow(
                programme=programme.title,
                set_title=learning_set.title,
                session=number,
                date=f"{sets.local(meeting):%Y-%m-%d}",
                name=member.name,
                email=member.email,
                status=status,
                hours=hours(meeting.minutes) if status == "present" else 0.0,
            )


def _members(learning_set: LearningSet, now: datetime) -> list[MemberFigures]:
    held = held_sessions(learning_set, now)
    found = []
    for member in sets.active_members(learning_set):
        statuses = [(_statuses(m).get(member.id, NOT_RECORDED), m) for _, m in held]
        present = [m for status, m in statuses if status == "present"]
        found.append(
            MemberFigures(
                set_title=learning_set.title,
                name=member.name,
                email=member.email,
                held=len(held),
                recorded=sum(1 for status, _ in statuses if status != NOT_RECORDED),
                attended=len(present),
                hours=hours(sum(m.minutes for m in present)),
            )
        )
    return found


def _assessment(
    db: Session, learning_set: LearningSet, dims: list[str], now: datetime
) -> AssessmentChange | None:
    """The set's change start → end, only when both phases have closed with enough answers
    (`self_assessment`'s own rule: its published totals are None otherwise)."""
    totals = self_assessment.published_totals(db, learning_set, dims, now)
    start, end = totals["start"], totals["end"]
    if start.counts is None or end.counts is None:
        return None
    return AssessmentChange(start.counted, end.counted, start.counts, end.counts)


def _pooled(changes: list[AssessmentChange | None]) -> AssessmentChange | None:
    """The programme's change: the anonymous totals of the sets that show one, added up."""
    shown = [c for c in changes if c is not None]
    if not shown:
        return None
    return AssessmentChange(
        counted_start=sum(c.counted_start for c in shown),
        counted_end=sum(c.counted_end for c in shown),
        counts_start=_sum_counts([c.counts_start for c in shown]),
        counts_end=_sum_counts([c.counts_end for c in shown]),
    )


def _sum_counts(all_counts: list[Counts]) -> Counts:
    dims = {d for counts in all_counts for d in counts}
    empty = (0, 0, 0, 0)
    columns = {d: zip(*(c.get(d, empty) for c in all_counts), strict=True) for d in dims}
    return {d: tuple(sum(column) for column in columns[d]) for d in dims}


def _coverage_rows(figures: list[SetFigures], frameworks: Frameworks) -> list[CoverageRow]:
    areas = {
        "hlm": frameworks.hlm.areas,
        "mlcf": frameworks.mlcf.top_level(),
        "gpc": frameworks.gpc.areas,
    }
    return [
        CoverageRow(key, a.id, a.label, tuple(f.coverage.get((key, a.id), 0) for f in figures))
        for key in FRAMEWORKS
        for a in areas[key]
    ]
