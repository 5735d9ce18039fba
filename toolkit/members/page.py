"""What a member's own page shows (their sessions, pre-work, actions) and the ticks they make:
only what concerns them, and nothing about other members beyond the printed handout's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from toolkit import evaluations, replies, sets
from toolkit.casebank import Resource
from toolkit.models import Action, Meeting, Member, PreworkTick
from toolkit.resources import session_resources
from toolkit.sets import SetError
from toolkit.sets.rota import presented


@dataclass(frozen=True)
class SessionLine:
    """One session as the member sees it, with their reply (None: not answered)."""

    key: str
    title: str
    number: int
    total: int
    when: str  # local date and clock times, e.g. "Thu 14 Jan 2027, 14:00 to 17:15"
    zone: str
    venue: str
    video_url: str
    cancelled: bool
    cancel_reason: str
    reply: str | None  # attending, apologies, tentative
    note: str
    presenting: bool
    started: bool  # replies close when the session starts: the register is the record then


@dataclass(frozen=True)
class PreworkItem:
    """One item of the next session's pre-work, and whether the member has ticked it."""

    resource: Resource
    done: bool


@dataclass(frozen=True)
class EvaluationLine:
    """A past session's evaluation as the member sees it: "open" (with when it closes),
    "answered" or "closed"."""

    session: SessionLine
    status: str
    closes: str  # local date and time, e.g. "Thu 14 Jan 2027, 17:15"


@dataclass(frozen=True)
class MemberPage:
    """Everything the member's page shows."""

    member_name: str
    set_title: str
    upcoming: list[SessionLine]
    next_session: SessionLine | None
    prework: list[PreworkItem]
    prework_minutes: int
    actions: list[Action]
    attended: list[SessionLine]
    evaluations: list[EvaluationLine]


def member_page(
    db: Session, member: Member, library: dict[str, Resource], now: datetime | None = None
) -> MemberPage:
    """The member's page as it is now: upcoming sessions (cancelled ones too, marked), the next
    session's pre-work with their ticks, their own actions, and past sessions they came to."""
    now = now or datetime.now(UTC)
    learning_set = member.learning_set
    in_order = sets.meetings_in_order(learning_set)
    lines = {m.id: _line(m, member, len(in_order), now) for m in in_order}
    upcoming = [m for m in in_order if sets.end_time(m) > now]
    coming = sets.next_meeting(learning_set, now)
    prework = _prework(db, member, coming, library) if coming else []
    came = {a.meeting_id for m in in_order for a in m.attendance if _present(a, member)}
    return MemberPage(
        member_name=member.name,
        set_title=learning_set.title,
        upcoming=[lines[m.id] for m in upcoming],
        next_session=lines[coming.id] if coming else None,
        prework=prework,
        prework_minutes=sum(p.resource.minutes for p in prework),
        actions=own_actions(db, member),
        attended=[lines[m.id] for m in in_order if m.id in came],
        evaluations=_evaluations(db, member, in_order, lines, now),
    )


def _evaluations(db, member, in_order, lines, now) -> list[EvaluationLine]:
    """Ended sessions the member came to (or was not marked away from): open ones first."""
    found = []
    known = evaluations.statuses(db, in_order, member, now)
    for meeting in reversed(in_order):
        state, closes = known[meeting.id]
        if state in ("open", "answered", "closed"):
            when = sets.describe_moment(member.learning_set, closes)
            found.append(EvaluationLine(lines[meeting.id], state, when))
    return sorted(found, key=lambda e: e.status != "open")


def _present(row, member: Member) -> bool:
    return row.member_id == member.id and row.status == "present"


def _line(meeting: Meeting, member: Member, total: int, now: datetime) -> SessionLine:
    rsvp = replies.replies_by_member(meeting).get(member.id)
    return SessionLine(
        key=meeting.key,
        title=meeting.title,
        number=sets.meeting_number(meeting),
        total=total,
        when=sets.describe_when(meeting),
        zone=meeting.learning_set.time_zone,
        venue=meeting.venue or meeting.learning_set.venue,
        video_url=meeting.video_url or meeting.learning_set.video_url,
        cancelled=meeting.status == "cancelled",
        cancel_reason=meeting.cancel_reason.strip(),
        reply=rsvp.status if rsvp else None,
        note=rsvp.note if rsvp else "",
        presenting=member.id in presented(meeting),
        started=sets.has_started(meeting, now),
    )


def _prework(
    db: Session, member: Member, meeting: Meeting, library: dict[str, Resource]
) -> list[PreworkItem]:
    done = _ticked(db, member, meeting)
    return [PreworkItem(r, r.id in done) for r in session_resources(meeting, library, "prework")]


def _ticked(db: Session, member: Member, meeting: Meeting) -> set[str]:
    rows = db.scalars(
        select(PreworkTick.resource_id).where(
            PreworkTick.member_id == member.id, PreworkTick.meeting_id == meeting.id
        )
    )
    return set(rows)


def own_actions(db: Session, member: Member) -> list[Action]:
    """The member's own actions, oldest first."""
    return [a for a in sets.actions_for(db, member.learning_set) if a.member_id == member.id]


def own_action(db: Session, member: Member, action_id: int) -> Action:
    """One of the member's own actions; anyone else's is refused as if it did not exist."""
    action = db.get(Action, action_id)
    if action is None or action.member_id != member.id:
        raise SetError("There is no such action of yours.")
    return action


def find_meeting(member: Member, key: str) -> Meeting:
    """A session of the member's own set, by its key."""
    found = next((m for m in member.learning_set.meetings if m.key == key), None)
    if found is None:
        raise SetError("There is no such session in your set.")
    return found


def tick_prework(
    db: Session, member: Member, meeting: Meeting, resource_id: str, done: bool
) -> None:
    """Tick (or untick) one item of a session's pre-work; ticking twice keeps one tick."""
    if resource_id not in {r.resource_id for r in meeting.resources if r.role == "prework"}:
        raise SetError("That is not part of this session's pre-work.")
    row = db.get(PreworkTick, (member.id, meeting.id, resource_id))
    if done and row is None:
        db.add(PreworkTick(member_id=member.id, meeting_id=meeting.id, resource_id=resource_id))
    if not done and row is not None:
        db.delete(row)
    db.flush()
