"""Which calendar messages each member is owed, composing them, sending them, and the send log."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from toolkit import calendar, sets
from toolkit.calendar import Person, SessionEvent
from toolkit.casebank import Resource
from toolkit.config import Settings
from toolkit.db import transaction
from toolkit.mail import Letter, MailError, Outbox, Transport, compose, send_with_retry
from toolkit.models import LearningSet, Meeting, Member, SentInvite
from toolkit.resources import session_resources


@dataclass(frozen=True)
class InviteSettings:
    """What invites need: host for UIDs, sender, reminder, and the library for pre-work."""

    host: str
    sender: Person
    reminder_minutes: int
    library: dict[str, Resource] = field(default_factory=dict)

    @classmethod
    def from_settings(
        cls, settings: Settings, library: dict[str, Resource] | None = None
    ) -> InviteSettings:
        sender = Person("Learning-set toolkit", settings.mail_from)
        return cls(settings.host, sender, settings.reminder_minutes, library or {})


@dataclass(frozen=True)
class Pending:
    """One message a member is owed for one session."""

    meeting: Meeting
    member: Member
    method: str  # REQUEST or CANCEL
    sequence: int
    reason: str  # new, updated, restored, cancelled, removed

    @property
    def is_update(self) -> bool:
        """True when it replaces or withdraws an invite the member already has."""
        return self.reason != "new"


@dataclass(frozen=True)
class Outcome:
    """What happened to one message."""

    pending: Pending
    delivered: bool
    detail: str


def event_uid(meeting: Meeting, host: str) -> str:
    """The session's UID, stable for its whole life: `session-<id>@<host>`."""
    return f"session-{meeting.uid}@{host}"


def _organizer(meeting: Meeting) -> Person:
    facilitator = min(meeting.learning_set.facilitators, key=lambda u: u.id)
    return Person(facilitator.name, facilitator.email)


def describe(meeting: Meeting, library: dict[str, Resource] | None = None) -> str:
    """Calendar DESCRIPTION: when, where, pre-work, the agenda outline; never cases or names."""
    lines = [f"{meeting.learning_set.title}, session {sets.meeting_number(meeting)}"]
    lines.append(f"{sets.describe_when(meeting)} ({meeting.learning_set.time_zone} time)")
    venue = meeting.venue or meeting.learning_set.venue
    video = meeting.video_url or meeting.learning_set.video_url
    if venue:
        lines.append(f"Where: {venue}")
    if video:
        lines.append(f"Video link: {video}")
    prework = session_resources(meeting, library or {}, "prework")
    if prework:
        total = sum(r.minutes for r in prework)
        lines += ["", f"Pre-work (about {total} min in all):"]
        lines += [f"- {r.title} ({r.kind}, {r.minutes} min): {r.url}" for r in prework]
    lines += ["", "Agenda:"]
    lines += [f"{t.start:%H:%M} {t.block.title}" for t in sets.agenda(meeting) if t.block.handout]
    return "\n".join(lines)


def session_event(
    meeting: Meeting, config: InviteSettings, sequence: int | None = None
) -> SessionEvent:
    """The calendar view of a session, as every invite and the feed show it."""
    learning_set = meeting.learning_set
    number = sets.meeting_number(meeting)
    return SessionEvent(
        uid=event_uid(meeting, config.host),
        sequence=meeting.sequence if sequence is None else sequence,
        summary=f"{learning_set.title}: session {number}, {meeting.title}",
        start=meeting.starts_at,
        end=sets.end_time(meeting),
        zone=learning_set.time_zone,
        location=meeting.venue or learning_set.venue,
        video_url=meeting.video_url or learning_set.video_url,
        description=describe(meeting, config.library),
        organizer=_organizer(meeting),
        cancelled=meeting.status == "cancelled",
        reminder_minutes=config.reminder_minutes,
    )


def _last_delivered(db: Session, meeting: Meeting) -> dict[int, SentInvite]:
    rows = db.scalars(
        select(SentInvite)
        .where(SentInvite.meeting_id == meeting.id, SentInvite.delivered.is_(True))
        .order_by(SentInvite.id)
    )
    return {row.member_id: row for row in rows if row.member_id is not None}


def _owed(meeting: Meeting, member: Member, last: SentInvite | None, resend: bool):
    """(method, sequence, reason) the member is owed for this session, or None."""
    had_request = last is not None and last.method == "REQUEST"
    if not member.active:
        return ("CANCEL", last.sequence + 1, "removed") if had_request else None
    if meeting.status == "cancelled":
        return ("CANCEL", meeting.sequence, "cancelled") if had_request else None
    if last is None:
        return ("REQUEST", meeting.sequence, "new")
    if last.method == "CANCEL":
        return ("REQUEST", max(meeting.sequence, last.sequence + 1), "restored")
    if last.sequence != meeting.sequence:
        return ("REQUEST", meeting.sequence, "updated")
    return ("REQUEST", meeting.sequence, "resent") if resend else None


def pending_invites(
    db: Session,
    learning_set: LearningSet,
    only: Meeting | None = None,
    resend: bool = False,
    now: datetime | None = None,
) -> list[Pending]:
    """Every message owed, for sessions that have not yet ended, in session then member order."""
    now = now or datetime.now(UTC)
    owed = []
    for meeting in sets.meetings_in_order(learning_set):
        if (only is not None and meeting.id != only.id) or sets.end_time(meeting) <= now:
            continue
        last = _last_delivered(db, meeting)
        for member in learning_set.members:
            found = _owed(meeting, member, last.get(member.id), resend)
            if found:
                owed.append(Pending(meeting, member, *found))
    return owed


def out_of_date_members(pending: list[Pending]) -> int:
    """How many members hold an invite that is now wrong (moved, cancelled or removed)."""
    return len({p.member.id for p in pending if p.is_update and p.reason != "resent"})


SUBJECT_PREFIX = {
    "new": "Invitation",
    "resent": "Invitation",
    "updated": "Updated",
    "restored": "Back on",
    "cancelled": "Cancelled",
    "removed": "Cancelled",
}


def letter(p: Pending, library: dict[str, Resource] | None = None) -> Letter:
    """Subject and plain body; they repeat the calendar's facts, because Outlook shows the body."""
    meeting, learning_set = p.meeting, p.meeting.learning_set
    number = sets.meeting_number(meeting)
    when = sets.describe_when(meeting)
    subject = f"{SUBJECT_PREFIX[p.reason]}: {learning_set.title}, session {number}, {when}"
    first = p.member.name.split()[0] if p.member.name.split() else p.member.name
    opening = {
        "new": "You are invited to the next meeting of your learning set.",
        "resent": "Here is your invitation again.",
        "updated": "The details of this meeting have changed. "
        "This replaces your earlier invitation.",
        "restored": "This meeting is going ahead after all. This replaces the cancellation.",
        "cancelled": "This meeting has been cancelled. Your calendar entry will be removed.",
        "removed": "You are no longer a member of this learning set, so this meeting has been "
        "removed from your calendar.",
    }[p.reason]
    body = [f"Dear {first},", opening, describe(meeting, library)]
    facilitator = _organizer(meeting)
    body.append(f"Facilitator: {facilitator.name} (reply to this e-mail to reach them)")
    return Letter(subject, "\n\n".join(body) + "\n")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "member"


def file_stem(p: Pending) -> str:
    """`session-<N>-<member>`, for .eml file names."""
    return f"session-{sets.meeting_number(p.meeting)}-{_slug(p.member.email)}"


def message(p: Pending, config: InviteSettings):
    """The e-mail for one pending invite: one VEVENT, one ATTENDEE, method in both places."""
    event = session_event(p.meeting, config, p.sequence)
    attendee = Person(p.member.name, p.member.email)
    ics = calendar.invite(event, attendee, p.method)
    return compose(
        config.sender,
        event.organizer,
        attendee,
        letter(p, config.library),
        ics,
        p.method,
        config.host,
    )


@dataclass(frozen=True)
class Prepared:
    """A composed message, ready to hand to a transport."""

    pending: Pending
    email: EmailMessage
    name: str


def prepare(pending: list[Pending], config: InviteSettings) -> list[Prepared]:
    """Compose every message up front (cheap), so sending needs no database objects loaded."""
    return [Prepared(p, message(p, config), file_stem(p)) for p in pending]


def send_each(
    sessions: sessionmaker[Session],
    prepared: list[Prepared],
    transport: Transport,
    delays: tuple[float, ...] = (1, 4, 15),
) -> Iterator[Outcome]:
    """Send each message, logging each result in its own transaction, and yield it at once
    (so a page can show progress); a failure stops nothing."""
    kind = "outbox" if isinstance(transport, Outbox) else "smtp"
    try:
        for item in prepared:
            try:
                detail = send_with_retry(transport, item.email, item.name, delays)
                outcome = Outcome(item.pending, True, detail)
            except MailError as exc:
                state = "temporary" if exc.temporary else "permanent"
                outcome = Outcome(item.pending, False, f"{state}: {exc}")
            _log(sessions, outcome, kind)
            yield outcome
    finally:
        transport.close()


def send_pending(
    sessions: sessionmaker[Session],
    pending: list[Pending],
    config: InviteSettings,
    transport: Transport,
    progress: Callable[[Outcome], None] | None = None,
    delays: tuple[float, ...] = (1, 4, 15),
) -> list[Outcome]:
    """Send every message; return the outcomes (and report each to `progress` as it happens)."""
    outcomes = []
    for outcome in send_each(sessions, prepare(pending, config), transport, delays):
        outcomes.append(outcome)
        if progress:
            progress(outcome)
    return outcomes


def _log(sessions: sessionmaker[Session], outcome: Outcome, kind: str) -> None:
    p = outcome.pending
    with transaction(sessions) as db:
        db.add(
            SentInvite(
                meeting_id=p.meeting.id,
                member_id=p.member.id,
                email=p.member.email,
                method=p.method,
                sequence=p.sequence,
                transport=kind,
                result=outcome.detail,
                delivered=outcome.delivered,
            )
        )


def feed(learning_set: LearningSet, config: InviteSettings) -> bytes:
    """The set's subscribable calendar: every session, cancelled ones marked, no attendees."""
    events = [session_event(m, config) for m in sets.meetings_in_order(learning_set)]
    return calendar.feed(learning_set.title, f"set-{learning_set.slug}@{config.host}", events)


def single(meeting: Meeting, config: InviteSettings) -> bytes:
    """One session as METHOD:PUBLISH, for the facilitator's own calendar."""
    return calendar.single(session_event(meeting, config))


def send_log(db: Session, learning_set: LearningSet) -> list[SentInvite]:
    """Every message sent for the set, newest first."""
    ids = [m.id for m in learning_set.meetings]
    query = select(SentInvite).where(SentInvite.meeting_id.in_(ids)).order_by(SentInvite.id.desc())
    return list(db.scalars(query))
