"""What happened at a session: attendance, apologies and the actions members committed to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from toolkit import limits
from toolkit.models import (
    Action,
    Attendance,
    LearningSet,
    Meeting,
)
from toolkit.sets.base import (
    ACTION_STATUSES,
    ATTENDANCE,
    SetError,
    active_members,
    check_room,
    check_started,
    has_started,
    line,
    text_field,
    touch,
)
from toolkit.sets.rota import refresh_rota


def record_attendance(
    db: Session, meeting: Meeting, statuses: dict[int, str], now: datetime | None = None
) -> None:
    """Record present / apologies / absent for members of the meeting's set, once it has started."""
    check_started(meeting, now)
    members = {m.id for m in meeting.learning_set.members}
    current = {a.member_id: a for a in meeting.attendance}
    for member_id, status in statuses.items():
        if member_id not in members or status not in ATTENDANCE:
            raise SetError("attendance must be present, apologies or absent for a member")
        if member_id in current:
            current[member_id].status = status
        else:
            meeting.attendance.append(Attendance(member_id=member_id, status=status))
    touch(meeting)
    db.flush()
    refresh_rota(db, meeting.learning_set, meeting.starts_at)


def mark_all_present(db: Session, meeting: Meeting, now: datetime | None = None) -> None:
    """Record every active member present, except those already down as sending apologies:
    the usual start, after which the facilitator changes only the exceptions."""
    sent = {a.member_id for a in meeting.attendance if a.status == "apologies"}
    members = [m.id for m in active_members(meeting.learning_set) if m.id not in sent]
    record_attendance(db, meeting, dict.fromkeys(members, "present"), now)


def record_apologies(
    db: Session, meeting: Meeting, member_ids: set[int], now: datetime | None = None
) -> None:
    """Before a session: exactly these members have sent apologies (the rota skips them)."""
    if has_started(meeting, now):
        raise SetError("The session has started: record attendance instead")
    if not member_ids <= {m.id for m in active_members(meeting.learning_set)}:
        raise SetError("apologies must come from members of this set")
    meeting.attendance[:] = [a for a in meeting.attendance if a.member_id in member_ids]
    have = {a.member_id for a in meeting.attendance}
    for member_id in sorted(member_ids - have):
        meeting.attendance.append(Attendance(member_id=member_id, status="apologies"))
    for row in meeting.attendance:
        row.status = "apologies"
    touch(meeting)
    db.flush()
    refresh_rota(db, meeting.learning_set, meeting.starts_at)
    refresh_rota(db, meeting.learning_set, meeting.starts_at)


def actions_for(db: Session, learning_set: LearningSet) -> list[Action]:
    """Every action in the set, oldest first."""
    return list(
        db.scalars(select(Action).where(Action.set_id == learning_set.id).order_by(Action.id))
    )


def add_action(
    db: Session,
    meeting: Meeting,
    member_id: int | None,
    text: str,
    due: str = "",
    support: str = "",
) -> Action:
    """Record an action a member committed to at a meeting."""
    if not text.strip():
        raise SetError("describe the action")
    if member_id is not None and member_id not in {m.id for m in meeting.learning_set.members}:
        raise SetError("the action's owner must be a member of this set")
    count = db.scalar(select(func.count()).where(Action.set_id == meeting.set_id))
    check_room(count or 0, limits.ACTIONS, "actions")
    action = Action(
        set_id=meeting.set_id,
        meeting_id=meeting.id,
        member_id=member_id,
        text=text_field(text, limits.ACTION, "action"),
        due=line(due, limits.DUE, "'by when'"),
        support=text_field(support, limits.SUPPORT, "support"),
    )
    db.add(action)
    touch(meeting)
    db.flush()
    return action


def update_action(db: Session, action: Action, status: str, outcome: str = "") -> None:
    """Close, drop or reopen an action, with what came of it."""
    if status not in ACTION_STATUSES:
        raise SetError(f"status must be one of {', '.join(ACTION_STATUSES)}")
    action.status = status
    action.outcome = text_field(outcome, limits.OUTCOME, "outcome")
    touch(db.get(LearningSet, action.set_id))
    db.flush()


def actions_to_review(db: Session, meeting: Meeting) -> list[Action]:
    """Open actions raised at earlier meetings: they belong in this meeting's action review."""
    earlier = {m.id for m in meeting.learning_set.meetings if m.starts_at < meeting.starts_at}
    return [
        a
        for a in actions_for(db, meeting.learning_set)
        if a.status == "open" and a.meeting_id in earlier
    ]
