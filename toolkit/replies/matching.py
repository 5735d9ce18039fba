"""Calendar replies matched to the invites we sent: each recorded, or refused with its reason.

A reply counts only when it answers an invite of ours (its UID), comes from the member it was
sent to (its ATTENDEE, checked against the send log) and answers the latest version of it (its
SEQUENCE): anything else is refused, and a refusal writes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from toolkit import limits
from toolkit.db import transaction
from toolkit.models import LearningSet, Meeting, Member, SentInvite
from toolkit.replies.itip import CalendarReply, Found
from toolkit.replies.record import record_reply
from toolkit.sets import SetError, meeting_number

STATUS_FOR = {"ACCEPTED": "attending", "DECLINED": "apologies", "TENTATIVE": "tentative"}
_UID = re.compile(r"^session-(?P<uid>[^@\s]+)@(?P<host>[^@\s]+)$")


class Refused(Exception):
    """A reply that does not answer an invite we sent, with the reason, in words."""


@dataclass(frozen=True)
class Outcome:
    """What became of one reply found in a file."""

    label: str
    accepted: bool
    detail: str  # "accepted from … for session 2 (attending)", or "refused: …"
    retry: bool = False  # it met a change made at the same moment: reading it again may work

    def __str__(self) -> str:
        return f"{self.label}: {self.detail}"


def import_replies(
    sessions: sessionmaker[Session],
    found: list[Found],
    host: str,
    now: datetime | None = None,
    only: LearningSet | None = None,
) -> list[Outcome]:
    """Record each reply found, each in its own transaction, so one refusal spoils no other;
    with `only`, replies to other sets' sessions are refused (a facilitator's upload)."""
    return [_import_one(sessions, item, host, now, only) for item in found]


def _import_one(
    sessions: sessionmaker[Session],
    item: Found,
    host: str,
    now: datetime | None,
    only: LearningSet | None,
) -> Outcome:
    if item.reply is None:
        return Outcome(item.label, False, f"refused: {item.problem}")
    try:
        with transaction(sessions) as db:
            detail = apply_reply(db, item.reply, host, now, only)
    except (Refused, SetError) as exc:
        return Outcome(item.label, False, f"refused: {exc}")
    except (IntegrityError, StaleDataError):  # another import or the facilitator, just now
        return Outcome(item.label, False, "not recorded: the session changed meanwhile", True)
    return Outcome(item.label, True, detail)


def apply_reply(
    db: Session,
    reply: CalendarReply,
    host: str,
    now: datetime | None = None,
    only: LearningSet | None = None,
) -> str:
    """Record a calendar reply as its member's answer to the session, or raise Refused."""
    if reply.method != "REPLY":
        raise Refused(
            f"a METHOD:{reply.method or '(none)'} message is not an answer to an invitation; "
            "only METHOD:REPLY is read"
        )
    meeting = session_for(db, reply.uid, host, only)
    member = member_for(meeting, reply)
    number = meeting_number(meeting)
    _check_sent(db, meeting, member, reply, number)
    status = _status(reply)
    _check_newer(meeting, member, reply)
    record_reply(
        db,
        meeting,
        member,
        status,
        reply.comment[: limits.RSVP_NOTE],
        "calendar",
        reply.sequence,
        now=now,
        replied_at=_when(reply, now),
    )
    return f"accepted from {member.email} for session {number} ({status})"


def is_ours(reply: CalendarReply, host: str) -> bool:
    """Whether the reply's UID has the form of our sessions' (`session-…@<our host>`)."""
    match = _UID.match(reply.uid)
    return match is not None and match["host"].lower() == host.lower()


def session_for(db: Session, uid: str, host: str, only: LearningSet | None = None) -> Meeting:
    """Our session with this UID (`session-<uid>@<our host>`), in set `only` if given, or
    Refused (saying nothing of other sets: the facilitator may not be allowed to see them)."""
    match = _UID.match(uid)
    if match is None or match["host"].lower() != host.lower():
        raise Refused(f"the event {uid or '(no UID)'} is not a session invited from {host}")
    meeting = db.scalar(select(Meeting).where(Meeting.uid == match["uid"]))
    if only is not None and (meeting is None or meeting.set_id != only.id):
        raise Refused(f"the event {uid} is not a session of {only.title}")
    if meeting is None:
        raise Refused(f"no session has the UID {uid} (it may have been deleted)")
    if meeting.deleted_at is not None:
        raise Refused(f"the session {uid} has been deleted")
    return meeting


def member_for(meeting: Meeting, reply: CalendarReply) -> Member:
    """The member of the session's set who is the reply's one ATTENDEE, or Refused."""
    if len(reply.attendees) != 1:
        raise Refused(f"a reply names one attendee; this one names {len(reply.attendees)}")
    address = reply.attendees[0]
    members = [m for m in meeting.learning_set.members if m.email.lower() == address]
    if not members:
        raise Refused(f"{address} is not a member of {meeting.learning_set.title}")
    if not members[0].active:
        raise Refused(f"{address} is no longer a member of {meeting.learning_set.title}")
    return members[0]


def _check_sent(
    db: Session, meeting: Meeting, member: Member, reply: CalendarReply, number: int
) -> None:
    """Refuse a reply to an invite never delivered to the member, withdrawn, or since replaced."""
    last = db.scalar(
        select(SentInvite)
        .where(SentInvite.meeting_id == meeting.id, SentInvite.member_id == member.id)
        .where(SentInvite.kind == "invite", SentInvite.delivered.is_(True))
        .order_by(SentInvite.id.desc())
        .limit(1)
    )
    if last is None:
        raise Refused(f"{member.email} was never sent an invite to session {number}")
    if last.method != "REQUEST":
        raise Refused(f"{member.email}'s invite to session {number} was withdrawn (cancelled)")
    if reply.sequence < last.sequence:
        raise Refused(
            f"out of date: it answers version {reply.sequence} of the invite to session "
            f"{number}, and {member.email} has since been sent version {last.sequence} "
            "(the session changed); their answer to that one will count"
        )


def _status(reply: CalendarReply) -> str:
    if reply.partstat not in STATUS_FOR:
        raise Refused(
            f"PARTSTAT {reply.partstat} is not an answer (accepted, declined or tentative)"
        )
    return STATUS_FOR[reply.partstat]


def _check_newer(meeting: Meeting, member: Member, reply: CalendarReply) -> None:
    """Refuse an answer older than the one already recorded (an mbox read out of order)."""
    current = next((r for r in meeting.rsvps if r.member_id == member.id), None)
    if current is None or reply.stamp is None or reply.stamp >= current.replied_at:
        return
    raise Refused(
        f"older than the answer {member.email} gave on "
        f"{current.replied_at:%d %b %Y at %H:%M} UTC, which stands"
    )


def _when(reply: CalendarReply, now: datetime | None) -> datetime:
    """When the member answered: the reply's DTSTAMP, unless it lies in the future."""
    now = now or datetime.now(UTC)
    if reply.stamp is None or reply.stamp > now:
        return now
    return reply.stamp.astimezone(UTC)
