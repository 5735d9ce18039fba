"""Which calendar messages each member is owed, composing them, sending them, and the send log."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
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
from toolkit.jobs.outgoing import Composed, Draft, Drop, deliver, queue_rows, transport_kind
from toolkit.letters import Invite, Section, invite_letter, outline
from toolkit.mail import SERVICE, Letter, Transport, compose
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
        sender = Person(SERVICE, settings.mail_from)
        return cls(settings.host, sender, settings.reminder_minutes, library or {})


@dataclass(frozen=True)
class Pending:
    """One message a member is owed for one session."""

    meeting: Meeting
    member: Member
    method: str  # REQUEST or CANCEL
    sequence: int
    reason: str  # new, resent, updated, restored, cancelled, removed, deleted
    copies: int = 0  # how many of this very message were delivered when it was found owed
    since: datetime | None = None  # when the member's last delivered message for it went

    @property
    def claim(self) -> str:
        """The key two sends of this message would both claim, so only one of them sends it."""
        return f"{self.meeting.id}:{self.member.id}:{self.method}:{self.sequence}:{self.copies}"

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
    skipped: bool = False  # another send had claimed it, so this one did not send it


def event_uid(meeting: Meeting, host: str) -> str:
    """The session's UID, stable for its whole life: `session-<id>@<host>`."""
    return f"session-{meeting.uid}@{host}"


def organizer(meeting: Meeting) -> Person:
    """The set's first facilitator: the ORGANIZER of its events and the Reply-To of its mail."""
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
    lines += [
        f"{t.start:%H:%M} {outline(t.block)}" for t in sets.agenda(meeting) if t.block.handout
    ]
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
        organizer=organizer(meeting),
        sent_by=config.sender.email,
        cancelled=meeting.status == "cancelled",
        reminder_minutes=config.reminder_minutes,
        changed=last_change(meeting),
    )


def last_change(meeting: Meeting) -> datetime:
    """When anything the session's event shows last changed (the session, its agenda, its set's
    title or place), so the feed says the same thing on every poll until something does."""
    learning_set = meeting.learning_set
    stamps = [c.changed_at for c in meeting.changes]
    stamps += [meeting.changed_at, learning_set.changed_at]  # None on rows from before 0006
    return max((s for s in stamps if s is not None), default=learning_set.created_at)


def _delivered(db: Session, meetings: list[Meeting]) -> dict[int, list[SentInvite]]:
    """Each session's delivered invites, oldest first (failed and in-flight ones do not count),
    by session id: one query for all of them."""
    found: dict[int, list[SentInvite]] = {m.id: [] for m in meetings}
    if not meetings:
        return found
    rows = db.scalars(
        select(SentInvite)
        .where(SentInvite.meeting_id.in_(list(found)), SentInvite.delivered.is_(True))
        .where(SentInvite.kind == "invite")
        .order_by(SentInvite.id)
    )
    for row in rows:
        found[row.meeting_id].append(row)
    return found


def _owed(meeting: Meeting, member: Member, last: SentInvite | None, resend: bool):
    """(method, sequence, reason) the member is owed for this session, or None."""
    had_request = last is not None and last.method == "REQUEST"
    if meeting.deleted_at is not None:
        return ("CANCEL", _superseding(meeting, last), "deleted") if had_request else None
    if not member.active:
        return ("CANCEL", last.sequence + 1, "removed") if had_request else None
    if meeting.status == "cancelled":
        return ("CANCEL", meeting.sequence, "cancelled") if had_request else None
    if last is None:
        return ("REQUEST", meeting.sequence, "new")
    if last.method == "CANCEL":
        return ("REQUEST", _superseding(meeting, last), "restored")
    if last.sequence != meeting.sequence:
        return ("REQUEST", meeting.sequence, "updated")
    return ("REQUEST", meeting.sequence, "resent") if resend else None


def _superseding(meeting: Meeting, last: SentInvite) -> int:
    """A SEQUENCE above the member's last message and no lower than the session's own."""
    return max(meeting.sequence, last.sequence + 1)


def pending_invites(
    db: Session,
    learning_set: LearningSet,
    only: Meeting | None = None,
    resend: bool = False,
    now: datetime | None = None,
) -> list[Pending]:
    """Every message owed, for sessions that have not yet ended, in session then member order."""
    now = now or datetime.now(UTC)
    meetings = [
        m
        for m in with_deleted(learning_set)
        if (only is None or m.id == only.id) and sets.end_time(m) > now
    ]
    delivered = _delivered(db, meetings)
    owed = []
    for meeting in meetings:
        owed += _owed_for(meeting, delivered[meeting.id], resend)
    return owed


def _owed_for(meeting: Meeting, rows: list[SentInvite], resend: bool) -> list[Pending]:
    last = {row.member_id: row for row in rows if row.member_id is not None}
    owed = []
    for member in meeting.learning_set.members:
        previous = last.get(member.id)
        found = _owed(meeting, member, previous, resend)
        if found:
            key = (member.id, *found[:2])
            copies = sum(1 for r in rows if (r.member_id, r.method, r.sequence) == key)
            since = previous.sent_at if previous else None
            owed.append(Pending(meeting, member, *found, copies=copies, since=since))
    return owed


def with_deleted(learning_set: LearningSet) -> list[Meeting]:
    """The set's sessions by start, with the deleted ones kept until their cancellations go."""
    return sorted(learning_set.meetings + learning_set.deleted_meetings, key=lambda m: m.starts_at)


def out_of_date_members(pending: list[Pending]) -> int:
    """How many members hold an invite that is now wrong (moved, cancelled or removed)."""
    return len({p.member.id for p in pending if p.is_update and p.reason != "resent"})


def letter(
    p: Pending, library: dict[str, Resource] | None = None, replies: Section | None = None
) -> Letter:
    """What the e-mail says: what changed since the member's last message, or why it is
    cancelled; "session N of M" and the session's title; the member's reply links."""
    invite = Invite(p.meeting, p.member.name, p.reason, organizer(p.meeting), p.since, replies)
    return invite_letter(invite, library)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "member"


def file_stem(p: Pending) -> str:
    """`session-<N>-<member>-<method>-<sequence>[-resend-<n>]`, for .eml file names, so no
    message takes another's name (`session-<N>-deleted-…` for a deleted session, whose number
    the session after it now has)."""
    deleted = "deleted-" if p.meeting.deleted_at else ""
    number = sets.meeting_number(p.meeting)
    resend = f"-resend-{p.copies}" if p.copies else ""
    return (
        f"session-{number}-{deleted}{_slug(p.member.email)}-{p.method.lower()}-{p.sequence}"
        + resend
    )


def message(p: Pending, config: InviteSettings, replies: Section | None = None) -> EmailMessage:
    """The e-mail for one pending invite: one VEVENT, one ATTENDEE, method in both places;
    `replies` are the member's "I can come" / "I can't come" links, if they have a page."""
    event = session_event(p.meeting, config, p.sequence)
    attendee = Person(p.member.name, p.member.email)
    ics = calendar.invite(event, attendee, p.method)
    return compose(
        config.sender,
        event.organizer,
        attendee,
        letter(p, config.library, replies),
        ics,
        p.method,
        config.host,
    )


ALREADY_SENDING = "skipped: another send, started at the same time, has sent it or is sending it"


def draft(p: Pending) -> Draft:
    """The send-log row a pending invite is queued as; its claim makes queueing it twice (two
    clicks, two tabs) queue it once."""
    return Draft(p.meeting.id, p.member.id, p.member.email, "invite", p.claim, p.method, p.sequence)


def compose_row(
    db: Session,
    row: SentInvite,
    config: InviteSettings,
    replies: Callable[[Pending], Section | None] | None = None,
) -> Composed | Drop:
    """A queued invite's e-mail as the session and member are now; dropped when what it was
    queued for is no longer what is owed (the session moved again, say: that is owed instead).
    `replies` gives the member's reply links for the letter, where they have a page."""
    meeting = db.get(Meeting, row.meeting_id)
    if meeting is None:
        return Drop("the session has been deleted")
    owed = pending_invites(db, meeting.learning_set, only=meeting, resend=True)
    match = next((p for p in owed if p.claim == row.claim), None)
    if match is None:
        return Drop(
            "the session or the member changed after it was queued; what is owed now "
            "is on the invites page"
        )
    links = replies(match) if replies else None
    return Composed(message(match, config, links), file_stem(match))


def send_pending(
    sessions: sessionmaker[Session],
    pending: list[Pending],
    config: InviteSettings,
    transport: Transport,
    progress: Callable[[Outcome], None] | None = None,
    delays: tuple[float, ...] = (1, 4, 15),
) -> list[Outcome]:
    """Queue and deliver each message here and now, for the command line: the same claims and
    send log as the task queue's workers, retrying a temporary failure after each of `delays`
    seconds; a message that still fails is owed again. Reports each outcome to `progress`."""
    outcomes = []
    kind = transport_kind(transport)

    def compose(db: Session, row: SentInvite, _now: datetime) -> Composed | Drop:
        return compose_row(db, row, config)

    try:
        for p in pending:
            ids = queue_rows(sessions, [draft(p)], kind)
            if not ids:
                outcome = Outcome(p, False, ALREADY_SENDING, skipped=True)
            else:
                state = deliver(sessions, ids[0], compose, transport, back_off=(), delays=delays)
                outcome = Outcome(p, state == "delivered", _result(sessions, ids[0]))
            outcomes.append(outcome)
            if progress:
                progress(outcome)
    finally:
        transport.close()
    purge_sets(sessions, {p.meeting.set_id for p in pending})
    return outcomes


def _result(sessions: sessionmaker[Session], row_id: int) -> str:
    with sessions() as db:
        row = db.get(SentInvite, row_id)
        return row.result if row else "dropped"


def purge_deleted(db: Session, learning_set: LearningSet, now: datetime | None = None) -> int:
    """Delete for good the set's deleted sessions that owe nobody a cancellation any more."""
    now = now or datetime.now(UTC)
    delivered = _delivered(db, learning_set.deleted_meetings)
    done = [
        m
        for m in learning_set.deleted_meetings
        if sets.end_time(m) <= now or not _owed_for(m, delivered[m.id], resend=False)
    ]
    for meeting in done:
        db.delete(meeting)
    db.flush()
    return len(done)


def purge_sets(sessions: sessionmaker[Session], set_ids: set[int]) -> None:
    """Purge each set's deleted sessions that owe nobody a cancellation any more."""
    for set_id in set_ids:
        with transaction(sessions) as db:
            learning_set = db.get(LearningSet, set_id)
            if learning_set is not None:
                purge_deleted(db, learning_set)


def feed(learning_set: LearningSet, config: InviteSettings) -> bytes:
    """The set's subscribable calendar: every session, cancelled ones marked, no attendees."""
    # Deleted sessions are simply left out (as everywhere but the invites): a subscribed calendar
    # drops an event that leaves its feed, which is what deleting means; a CANCELLED entry would
    # linger in it as a session the facilitator wanted gone.
    events = [session_event(m, config) for m in sets.meetings_in_order(learning_set)]
    return calendar.feed(learning_set.title, f"set-{learning_set.slug}@{config.host}", events)


@dataclass(frozen=True)
class Feed:
    """The feed as served over HTTP: its body, a strong ETag of it and its newest change."""

    body: bytes
    etag: str
    last_modified: datetime


def published_feed(learning_set: LearningSet, config: InviteSettings) -> Feed:
    """The feed with what a subscriber's conditional GET is checked against."""
    body = feed(learning_set, config)
    # a deleted session's change counts too: its leaving the feed is a change
    changes = [last_change(m) for m in with_deleted(learning_set)]
    newest = max(changes, default=learning_set.created_at)
    return Feed(body, hashlib.sha256(body).hexdigest(), newest.replace(microsecond=0))


def single(meeting: Meeting, config: InviteSettings) -> bytes:
    """One session as METHOD:PUBLISH, for the facilitator's own calendar."""
    return calendar.single(session_event(meeting, config))


def send_log(db: Session, learning_set: LearningSet) -> list[SentInvite]:
    """Every message sent for the set, newest first (with deleted sessions' cancellations)."""
    ids = [m.id for m in with_deleted(learning_set)]
    query = select(SentInvite).where(SentInvite.meeting_id.in_(ids)).order_by(SentInvite.id.desc())
    return list(db.scalars(query))
