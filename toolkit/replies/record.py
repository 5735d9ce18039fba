"""Members' replies to a session: recording one (the latest wins) and counting them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from toolkit import limits
from toolkit.models import Meeting, Member, Rsvp, utcnow
from toolkit.sets import SetError, active_members, apologies, has_started, record_apologies
from toolkit.sets.base import text_field

STATUSES = ("attending", "apologies", "tentative")
SOURCES = ("link", "calendar", "import")
# how each reply reads in a sentence: "Zoë is coming"
WORDS = {"attending": "coming", "apologies": "apologies", "tentative": "maybe"}


def record_reply(
    db: Session,
    meeting: Meeting,
    member: Member,
    status: str,
    note: str = "",
    source: str = "link",
    sequence: int | None = None,
    now: datetime | None = None,
    replied_at: datetime | None = None,
) -> Rsvp:
    """Record a member's reply to a session, replacing any earlier one; apologies also go into
    the register's apologies, so the rota skips the member (and a change of mind takes them out).

    A learning-set file (`source="import"`) may carry replies to past sessions: those are kept
    as they were, and the register, which is the record by then, is left alone. `replied_at`
    is when the member answered, if not now (a calendar reply's DTSTAMP)."""
    _check(meeting, member, status, source)
    note = text_field(note, limits.RSVP_NOTE, "note")
    started = has_started(meeting, now)
    if started and source != "import":
        raise SetError("The session has started: the register is the record of who came now.")
    rsvp = next((r for r in meeting.rsvps if r.member_id == member.id), None)
    if rsvp is None:
        rsvp = Rsvp(member_id=member.id)
        meeting.rsvps.append(rsvp)
    rsvp.status = status
    rsvp.note = note
    rsvp.source = source
    rsvp.sequence = sequence
    rsvp.replied_at = replied_at or now or utcnow()
    db.flush()
    if not started:
        _update_apologies(db, meeting, member, status, now)
    return rsvp


def _check(meeting: Meeting, member: Member, status: str, source: str) -> None:
    if status not in STATUSES:
        raise SetError(f"a reply is one of {', '.join(STATUSES)}, not {status!r}")
    if source not in SOURCES:
        raise SetError(f"a reply comes from one of {', '.join(SOURCES)}, not {source!r}")
    if member.set_id != meeting.set_id or not member.active:
        raise SetError("replies must come from members of this set")
    if meeting.deleted_at is not None or meeting.status == "cancelled":
        raise SetError("The session is cancelled: there is nothing to reply to.")


def _update_apologies(
    db: Session, meeting: Meeting, member: Member, status: str, now: datetime | None
) -> None:
    """Add the member to the session's apologies, or take them out after a change of mind."""
    current = apologies(meeting) & {m.id for m in active_members(meeting.learning_set)}
    wanted = current | {member.id} if status == "apologies" else current - {member.id}
    if wanted != apologies(meeting):
        record_apologies(db, meeting, wanted, now)


@dataclass(frozen=True)
class Summary:
    """How a session's active members have replied."""

    attending: int
    apologies: int
    tentative: int
    not_answered: int

    def __str__(self) -> str:
        """E.g. "4 coming, 1 apologies, 1 not answered" (maybes only when there are some)."""
        parts = [f"{self.attending} coming", f"{self.apologies} apologies"]
        if self.tentative:
            parts.append(f"{self.tentative} maybe")
        parts.append(f"{self.not_answered} not answered")
        return ", ".join(parts)


def replies_by_member(meeting: Meeting) -> dict[int, Rsvp]:
    """The session's replies from its set's active members, by member id."""
    members = {m.id for m in active_members(meeting.learning_set)}
    return {r.member_id: r for r in meeting.rsvps if r.member_id in members}


def summary(meeting: Meeting) -> Summary:
    """Counts of the session's replies among the set's active members."""
    replies = replies_by_member(meeting)
    counts = {status: 0 for status in STATUSES}
    for rsvp in replies.values():
        counts[rsvp.status] += 1
    members = len(active_members(meeting.learning_set))
    return Summary(
        counts["attending"], counts["apologies"], counts["tentative"], members - len(replies)
    )
