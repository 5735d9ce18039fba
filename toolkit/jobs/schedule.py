"""When each automatic message is due: reminders before sessions, follow-ups after them, and the
self-assessment invitations (with one reminder) at the programme's start and end.

Times come from the set's schedule in the set's own zone. Each message has a claim that names
what makes it due (a reminder's names the session's start), so a moved session owes a new
reminder, and asking twice for the same moment queues nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from toolkit import self_assessment, sets
from toolkit.models import LearningSet, Meeting, Member
from toolkit.sets import SetError

KINDS = ("reminder", "follow-up", "assessment", "assessment-reminder")
LABELS = {
    "reminder": "Reminder before each session",
    "follow-up": "Follow-up after each session",
    "assessment": "Self-assessment invitation",
    "assessment-reminder": "Self-assessment reminder",
}
FOLLOW_UP_WINDOW = timedelta(days=7)  # a follow-up more than a week late is not sent at all
ASSESSMENT_WINDOW = timedelta(days=21)  # nor an end-of-programme invitation three weeks late
START_INVITATION_DAYS = 7  # the start invitation goes a week before the first session
NUDGE_DAYS = 4  # and its one reminder four days after each invitation
DEFAULT_CLOCK = "09:00"


@dataclass(frozen=True)
class Due:
    """One automatic message that is due: what, about which session, to whom, since when."""

    kind: str
    meeting: Meeting
    member: Member
    at: datetime
    claim: str
    phase: str = ""  # start or end, for the self-assessment


def at_clock(day: date, clock: str, zone: str) -> datetime:
    """`clock` (HH:MM) on `day` in `zone`, in UTC."""
    local = datetime.combine(day, time.fromisoformat(clock), tzinfo=ZoneInfo(zone))
    return local.astimezone(UTC)


def reminder_time(meeting: Meeting) -> datetime | None:
    """When the reminder before a session is due; None when the set sends none."""
    learning_set = meeting.learning_set
    if learning_set.reminder_days is None:
        return None
    day = sets.local(meeting).date() - timedelta(days=learning_set.reminder_days)
    return at_clock(day, learning_set.reminder_at, learning_set.time_zone)


def follow_up_time(meeting: Meeting) -> datetime | None:
    """When the follow-up after a session is due; None when the set sends none."""
    learning_set = meeting.learning_set
    if learning_set.follow_up_days is None:
        return None
    day = sets.local(meeting, sets.end_time(meeting)).date()
    day += timedelta(days=learning_set.follow_up_days)
    return at_clock(day, learning_set.follow_up_at, learning_set.time_zone)


def _going_ahead(learning_set: LearningSet) -> list[Meeting]:
    return [m for m in sets.meetings_in_order(learning_set) if m.status != "cancelled"]


def assessment_times(learning_set: LearningSet) -> dict[str, tuple[Meeting, datetime, datetime]]:
    """Per phase: the session it hangs on, when its invitation is due and until when it may go."""
    held = _going_ahead(learning_set)
    if not learning_set.assessment_mail or not held:
        return {}
    first, last = held[0], held[-1]
    clock = learning_set.reminder_at or DEFAULT_CLOCK
    start_day = sets.local(first).date() - timedelta(days=START_INVITATION_DAYS)
    start = at_clock(start_day, clock, learning_set.time_zone)
    end_day = sets.local(last, sets.end_time(last)).date() + timedelta(days=1)
    end = at_clock(end_day, learning_set.follow_up_at or DEFAULT_CLOCK, learning_set.time_zone)
    return {"start": (first, start, first.starts_at), "end": (last, end, end + ASSESSMENT_WINDOW)}


def due_messages(db: Session, learning_set: LearningSet, now: datetime) -> list[Due]:
    """Every automatic message of the set due at `now` (sent or not: claims sort that out)."""
    members = sets.active_members(learning_set)
    due: list[Due] = []
    for meeting in _going_ahead(learning_set):
        due += _reminders(meeting, members, now) + _follow_ups(meeting, members, now)
    return due + _assessments(db, learning_set, members, now)


def _reminders(meeting: Meeting, members: list[Member], now: datetime) -> list[Due]:
    at = reminder_time(meeting)
    if at is None or not at <= now < meeting.starts_at:
        return []
    stamp = f"{meeting.starts_at:%Y%m%dT%H%M}"
    return [
        Due("reminder", meeting, m, at, f"reminder:{meeting.id}:{m.id}:{stamp}") for m in members
    ]


def _follow_ups(meeting: Meeting, members: list[Member], now: datetime) -> list[Due]:
    at = follow_up_time(meeting)
    if at is None or not at <= now < at + FOLLOW_UP_WINDOW:
        return []
    recorded = {a.member_id for a in meeting.attendance}
    # once attendance is taken, only those it names (members who joined later were not there)
    to = [m for m in members if m.id in recorded] if recorded else members
    return [Due("follow-up", meeting, m, at, f"follow-up:{meeting.id}:{m.id}") for m in to]


def _assessments(
    db: Session, learning_set: LearningSet, members: list[Member], now: datetime
) -> list[Due]:
    times = assessment_times(learning_set)
    if not times:
        return []
    answered = self_assessment.answered_by(db, learning_set)
    due = []
    for phase, (meeting, at, until) in times.items():
        if self_assessment.is_closed(
            self_assessment.phase_row(db, learning_set, phase), learning_set, answered[phase], now
        ):
            continue
        waiting = [m for m in members if m.id not in answered[phase]]
        for kind, when in (("assessment", at), ("assessment-reminder", at + _nudge())):
            if when <= now < until:
                due += [
                    Due(kind, meeting, m, when, f"{kind}:{phase}:{m.id}", phase) for m in waiting
                ]
    return due


def _nudge() -> timedelta:
    return timedelta(days=NUDGE_DAYS)


@dataclass(frozen=True)
class Upcoming:
    """The next time one kind of automatic message goes, for the set's schedule page."""

    kind: str
    label: str
    when: str  # the rule, e.g. "2 days before, at 09:00"
    next_at: datetime | None
    meeting: Meeting | None


def upcoming(learning_set: LearningSet, now: datetime) -> list[Upcoming]:
    """Each kind's rule and next due time (after `now`), or None when off or nothing is left."""
    held = _going_ahead(learning_set)
    rows = []
    for kind, rule, timer in (
        (
            "reminder",
            _rule(learning_set.reminder_days, learning_set.reminder_at, "before"),
            reminder_time,
        ),
        (
            "follow-up",
            _rule(learning_set.follow_up_days, learning_set.follow_up_at, "after"),
            follow_up_time,
        ),
    ):
        nexts = [(timer(m), m) for m in held]
        nexts = [(at, m) for at, m in nexts if at is not None and at > now]
        at, meeting = min(nexts, key=lambda pair: pair[0], default=(None, None))
        rows.append(Upcoming(kind, LABELS[kind], rule, at, meeting))
    phases = [(at, m) for m, at, _until in assessment_times(learning_set).values() if at > now]
    at, meeting = min(phases, key=lambda pair: pair[0], default=(None, None))
    rule = (
        f"{START_INVITATION_DAYS} days before the first session and the day after the last; "
        f"one reminder {NUDGE_DAYS} days later to those who have not answered"
        if learning_set.assessment_mail
        else "off"
    )
    rows.append(Upcoming("assessment", LABELS["assessment"], rule, at, meeting))
    return rows


def _rule(days: int | None, clock: str, which: str) -> str:
    if days is None:
        return "off"
    if days == 0:
        return f"on the day, at {clock}"
    return f"{days} day{'s' if days != 1 else ''} {which}, at {clock}"


MAX_DAYS = 14  # the furthest a reminder or follow-up may be from its session


@dataclass(frozen=True)
class Plan:
    """A set's schedule of automatic messages, as the set page and the set file give it."""

    reminder_days: int | None = 2
    reminder_at: str = DEFAULT_CLOCK
    follow_up_days: int | None = 1
    follow_up_at: str = DEFAULT_CLOCK
    assessment: bool = True


def plan_of(learning_set: LearningSet) -> Plan:
    return Plan(
        learning_set.reminder_days,
        learning_set.reminder_at,
        learning_set.follow_up_days,
        learning_set.follow_up_at,
        learning_set.assessment_mail,
    )


def check_clock(value: str, what: str) -> str:
    """An HH:MM time of day, or SetError saying what is wrong."""
    try:
        if len(value) != 5:
            raise ValueError
        time.fromisoformat(value)
    except ValueError:
        raise SetError(f"the {what} must be a time of day like 09:00, not {value!r}") from None
    return value


def check_days(value: int | None, what: str) -> int | None:
    if value is not None and not 0 <= value <= MAX_DAYS:
        raise SetError(f"the {what} must be from 0 to {MAX_DAYS} days, not {value}")
    return value


def set_plan(learning_set: LearningSet, plan: Plan) -> None:
    """Change the set's schedule of automatic messages, refusing impossible values."""
    learning_set.reminder_days = check_days(plan.reminder_days, "reminder")
    learning_set.reminder_at = check_clock(plan.reminder_at, "reminder time")
    learning_set.follow_up_days = check_days(plan.follow_up_days, "follow-up")
    learning_set.follow_up_at = check_clock(plan.follow_up_at, "follow-up time")
    learning_set.assessment_mail = bool(plan.assessment)
