"""Sessions of a set: adding, scheduling, moving, cancelling and deleting them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from toolkit import limits
from toolkit.models import (
    LearningSet,
    Meeting,
    MeetingChange,
    SentInvite,
)
from toolkit.planning import (
    series_starts,
)
from toolkit.session_templates import SessionTemplate
from toolkit.sets.agenda import apply_template
from toolkit.sets.base import (
    SetError,
    check_room,
    describe_start,
    end_time,
    line,
    meeting_number,
    meetings_in_order,
    text_field,
)
from toolkit.sets.rota import refresh_rota


def new_meeting_key(learning_set: LearningSet) -> str:
    """A short id for a new meeting, unique within its set."""
    taken = {m.key for m in learning_set.meetings}
    n = len(learning_set.meetings) + 1
    while f"session-{n}" in taken:
        n += 1
    return f"session-{n}"


NEW_EMPTY = ("blocks", "cases", "prompts", "attendance", "resources", "changes", "rsvps")


def add_meeting(
    db: Session,
    learning_set: LearningSet,
    start: datetime,
    template: SessionTemplate,
    title: str = "",
    minutes: int | None = None,
    key: str = "",
    rota: bool = True,
) -> Meeting:
    """Add one meeting and build its agenda from `template` with a proposed presenter rota
    (with `rota` off, without: see `apply_template`)."""
    check_free(learning_set, [start])
    check_room(len(learning_set.meetings), limits.SESSIONS, "sessions")
    meeting = Meeting(
        uid=uuid.uuid4().hex,
        key=key or new_meeting_key(learning_set),
        title=title or template.short_title,
        template_id=template.id,
        starts_at=start,
        minutes=minutes or template.minutes,
        # a new session has none of these: known empty, they are never asked of the database
        **{name: [] for name in NEW_EMPTY},
    )
    learning_set.meetings.append(meeting)
    db.flush()
    apply_template(db, meeting, template, rota=rota)
    return meeting


def add_series(
    db: Session,
    learning_set: LearningSet,
    first: datetime,
    every_weeks: int,
    count: int,
    template: SessionTemplate,
    others: Mapping[int, SessionTemplate] | None = None,
    minutes: int | None = None,
) -> list[Meeting]:
    """Add `count` meetings every `every_weeks` weeks at the same local time, each built from
    `template` unless `others` gives its own (by place in the series, 0 first); each slot is its
    template's length unless `minutes` says otherwise."""
    starts = series_starts(first, every_weeks, count)
    check_free(learning_set, starts)
    check_room(len(learning_set.meetings) + count - 1, limits.SESSIONS, "sessions")
    chosen = [(others or {}).get(n, template) for n in range(count)]
    return [
        add_meeting(db, learning_set, start, t, minutes=minutes)
        for start, t in zip(starts, chosen, strict=True)
    ]


def check_free(
    learning_set: LearningSet,
    starts: Sequence[datetime],
    moving: Meeting | None = None,
    outcome: str = "nothing was added",
) -> None:
    """Refuse sessions starting at the same instant as another session already in the set."""
    wanted = set(starts)
    others = [m for m in meetings_in_order(learning_set) if m is not moving]
    clashes = [m for m in others if m.starts_at in wanted]
    if not clashes:
        return
    named = [f"{describe_start(m)} (Session {meeting_number(m)}: {m.title})" for m in clashes]
    if len(named) == 1:
        raise SetError(f"There is already a session at {named[0]}; {outcome}.")
    listed = ", ".join(named[:-1]) + " and " + named[-1]
    raise SetError(f"There are already sessions at {listed}; {outcome}.")


def _record(db: Session, meeting: Meeting, field: str, old: str, new: str) -> None:
    if old != new:
        meeting.changes.append(MeetingChange(field=field, old=old, new=new))


def change_meeting(
    db: Session,
    meeting: Meeting,
    start: datetime | None = None,
    minutes: int | None = None,
    venue: str | None = None,
    video_url: str | None = None,
    title: str | None = None,
    now: datetime | None = None,
    refuse_clash: bool = True,
) -> bool:
    """Move or re-place a meeting; a change of time or place is recorded and bumps SEQUENCE.

    A session with presence or absence recorded has been held: it cannot move to a time still
    to come (its attendance would then be a record of the future). Nor can it move onto another
    session's start, unless `refuse_clash` is off (a set file, checked as a whole, may swap two).
    """
    if start is not None and refuse_clash:
        check_free(meeting.learning_set, [start], meeting, "the session was not moved")
    if start is not None and start > (now or datetime.now(UTC)) and _held(meeting):
        raise SetError(
            "Attendance has been recorded for this session, so it cannot move to a time that "
            "has not come yet. Add a new session instead."
        )
    before = len(meeting.changes)
    moved_from = min(meeting.starts_at, start) if start is not None else None
    if start is not None:
        _record(db, meeting, "start", meeting.starts_at.isoformat(), start.isoformat())
        meeting.starts_at = start
    if minutes is not None:
        _record(db, meeting, "minutes", str(meeting.minutes), str(minutes))
        meeting.minutes = minutes
    if venue is not None:
        _record(db, meeting, "venue", meeting.venue, venue)
        meeting.venue = venue
    if video_url is not None:
        _record(db, meeting, "video_url", meeting.video_url, video_url)
        meeting.video_url = video_url
    if title is not None:
        meeting.title = line(title, limits.TITLE, "title")
    changed = len(meeting.changes) > before
    if changed:
        meeting.sequence += 1
    db.flush()
    if moved_from is not None:
        refresh_rota(db, meeting.learning_set, moved_from)
    return changed


def _held(meeting: Meeting) -> bool:
    return any(a.status != "apologies" for a in meeting.attendance)


def set_status(db: Session, meeting: Meeting, status: str, reason: str = "") -> bool:
    """Cancel (`cancelled`, with an optional reason) or restore (`scheduled`) a meeting;
    a change of status is recorded and bumps SEQUENCE."""
    if status not in ("scheduled", "cancelled"):
        raise SetError(f"unknown status '{status}'")
    reason = text_field(reason, limits.CANCEL_REASON, "reason for cancelling")
    meeting.cancel_reason = reason if status == "cancelled" else ""
    if meeting.status == status:
        return False
    _record(db, meeting, "status", meeting.status, status)
    meeting.status = status
    meeting.sequence += 1
    db.flush()
    refresh_rota(db, meeting.learning_set, meeting.starts_at)
    return True


def upcoming_meetings(learning_set: LearningSet, now: datetime | None = None) -> list[Meeting]:
    """The set's scheduled meetings that have not started yet, in order."""
    now = now or datetime.now(UTC)
    in_order = meetings_in_order(learning_set)
    return [m for m in in_order if m.status != "cancelled" and m.starts_at >= now]


def next_meeting(learning_set: LearningSet, now: datetime | None = None) -> Meeting | None:
    """The set's next scheduled meeting that has not started yet."""
    return next(iter(upcoming_meetings(learning_set, now)), None)


def invited_members(db: Session, meeting: Meeting) -> set[int]:
    """Members whose calendar holds this session's invitation, or who are being sent one now."""
    rows = db.scalars(
        select(SentInvite)
        .where(SentInvite.meeting_id == meeting.id, SentInvite.member_id.is_not(None))
        .where(SentInvite.kind == "invite")
        .where(or_(SentInvite.delivered.is_(True), SentInvite.claim.is_not(None)))
        .order_by(SentInvite.id)
    )
    last = {row.member_id: row.method for row in rows}
    return {member_id for member_id, method in last.items() if method == "REQUEST"}


def cancellations_on_delete(db: Session, meeting: Meeting, now: datetime | None = None) -> int:
    """How many members deleting this session would owe a CANCEL (none once it has ended)."""
    now = now or datetime.now(UTC)
    return 0 if end_time(meeting) <= now else len(invited_members(db, meeting))


def delete_meeting(db: Session, meeting: Meeting, now: datetime | None = None) -> bool:
    """Delete a session; True when members hold its invitation, so it is only hidden until the
    invites code has sent them the CANCEL and purges it (one that has ended goes at once)."""
    if meeting.deleted_at is not None:
        return True
    now = now or datetime.now(UTC)
    learning_set, since = meeting.learning_set, meeting.starts_at
    if not cancellations_on_delete(db, meeting, now):
        learning_set.meetings.remove(meeting)
        db.flush()
        refresh_rota(db, learning_set, since)
        return False
    _record(db, meeting, "status", meeting.status, "deleted")
    meeting.status, meeting.deleted_at = "cancelled", now
    meeting.sequence += 1
    meeting.key = f"deleted-{meeting.uid}"  # frees the key for new sessions; the UID stays
    db.flush()
    db.expire(learning_set, ["meetings"])
    refresh_rota(db, learning_set, since)
    return True
