"""Learning sets, their members and meetings: the service functions the web and CLI share."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from toolkit.accounts import check_email
from toolkit.casebank import Bank
from toolkit.models import (
    Action,
    AgendaBlock,
    Attendance,
    LearningSet,
    Meeting,
    MeetingCase,
    MeetingChange,
    MeetingPrompt,
    Member,
    SentInvite,
    User,
)
from toolkit.planning import (
    Overrun,
    PlannedBlock,
    TimedBlock,
    check_overrun,
    expand_template,
    propose_rota,
    series_starts,
    timed_agenda,
)
from toolkit.session_templates import SessionTemplate

DEFAULT_GROUND_RULES = (
    "What is said in the set stays in the set, unless someone's safety is at risk.",
    "Anonymise patients and colleagues when you describe a situation.",
    "Confidentiality never stops anyone raising a patient-safety concern.",
    "Arrive on time, stay to the end, and send apologies in advance.",
    "Give each presenter their airtime; one conversation at a time.",
    "Ask questions rather than give advice, unless the presenter asks for it.",
    "Everyone brings an issue in turn and everyone helps.",
    "Phones on silent unless you are on call.",
)
ATTENDANCE = ("present", "apologies", "absent")
ACTION_STATUSES = ("open", "done", "dropped")
MIN_MEMBERS, MAX_MEMBERS = 4, 8


class SetError(ValueError):
    """A reason a change to a set cannot be made, in words the facilitator can act on."""


def check_zone(name: str) -> str:
    """Return `name` if it is a known IANA time zone, else raise SetError."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SetError(f"unknown time zone '{name}' (use a name such as Europe/London)") from None
    return name


def can_access(user: User, learning_set: LearningSet) -> bool:
    """Admins see every set; facilitators only their own."""
    return user.is_admin or any(f.id == user.id for f in learning_set.facilitators)


def sets_for(db: Session, user: User) -> list[LearningSet]:
    """The sets a user may see, by title."""
    query = select(LearningSet).order_by(LearningSet.title)
    if not user.is_admin:
        query = query.join(LearningSet.facilitators).where(User.id == user.id)
    return list(db.scalars(query))


def create_set(
    db: Session, owner: User, slug: str, title: str, time_zone: str = "Europe/London", **fields: str
) -> LearningSet:
    """Create a set facilitated by `owner`, with the default ground rules."""
    if db.scalar(select(LearningSet).where(LearningSet.slug == slug)):
        raise SetError(f"a set with the id '{slug}' already exists")
    learning_set = LearningSet(
        slug=slug,
        title=title,
        time_zone=check_zone(time_zone),
        ground_rules="\n".join(DEFAULT_GROUND_RULES),
        feed_token=secrets.token_urlsafe(24),
        **fields,
    )
    learning_set.facilitators.append(owner)
    db.add(learning_set)
    db.flush()
    return learning_set


def size_warning(learning_set: LearningSet) -> str | None:
    """A warning (not an error) when a set is smaller or larger than sets usually work well."""
    n = len(active_members(learning_set))
    if n < MIN_MEMBERS:
        return f"This set has {n} member(s); learning sets usually work best with 4 to 8."
    if n > MAX_MEMBERS:
        return f"This set has {n} members; above 8, members get little airtime."
    return None


def active_members(learning_set: LearningSet) -> list[Member]:
    """Members who have not been removed, in the order they joined."""
    return [m for m in learning_set.members if m.active]


def add_member(
    db: Session, learning_set: LearningSet, name: str, email: str, grade: str = ""
) -> Member:
    """Add a member; an invalid e-mail, or one already in the set, is refused."""
    try:
        email = check_email(email)
    except ValueError as exc:
        raise SetError(str(exc)) from None
    if any(m.email == email for m in learning_set.members):
        raise SetError(f"{email} is already a member of this set")
    member = Member(name=name.strip(), email=email, grade=grade.strip())
    learning_set.members.append(member)
    db.flush()
    return member


def new_meeting_key(learning_set: LearningSet) -> str:
    """A short id for a new meeting, unique within its set."""
    taken = {m.key for m in learning_set.meetings}
    n = len(learning_set.meetings) + 1
    while f"session-{n}" in taken:
        n += 1
    return f"session-{n}"


def add_meeting(
    db: Session,
    learning_set: LearningSet,
    start: datetime,
    template: SessionTemplate,
    title: str = "",
    minutes: int | None = None,
    key: str = "",
) -> Meeting:
    """Add one meeting and build its agenda from `template` with a proposed presenter rota."""
    check_free(learning_set, [start])
    meeting = Meeting(
        uid=uuid.uuid4().hex,
        key=key or new_meeting_key(learning_set),
        title=title or template.name,
        template_id=template.id,
        starts_at=start,
        minutes=minutes or template.minutes,
    )
    learning_set.meetings.append(meeting)
    db.flush()
    apply_template(db, meeting, template)
    return meeting


def add_series(
    db: Session,
    learning_set: LearningSet,
    first: datetime,
    every_weeks: int,
    count: int,
    template: SessionTemplate,
) -> list[Meeting]:
    """Add `count` meetings every `every_weeks` weeks at the same local time."""
    starts = series_starts(first, every_weeks, count)
    check_free(learning_set, starts)
    return [add_meeting(db, learning_set, start, template) for start in starts]


def check_free(learning_set: LearningSet, starts: Sequence[datetime]) -> None:
    """Refuse new sessions starting at the same instant as a session already in the set."""
    wanted = set(starts)
    clashes = [m for m in meetings_in_order(learning_set) if m.starts_at in wanted]
    if not clashes:
        return
    named = [f"{describe_start(m)} (Session {meeting_number(m)}: {m.title})" for m in clashes]
    if len(named) == 1:
        raise SetError(f"There is already a session at {named[0]}; nothing was added.")
    listed = ", ".join(named[:-1]) + " and " + named[-1]
    raise SetError(f"There are already sessions at {listed}; nothing was added.")


def meetings_in_order(learning_set: LearningSet) -> list[Meeting]:
    """The set's meetings by start time."""
    return sorted(learning_set.meetings, key=lambda m: m.starts_at)


def meeting_number(meeting: Meeting) -> int:
    """1 for the set's first meeting, and so on (cancelled meetings keep their place, and a
    deleted one still owed cancellations is numbered where it stood)."""
    in_order = meetings_in_order(meeting.learning_set)
    if meeting.deleted_at is None:
        return in_order.index(meeting) + 1
    return sum(1 for m in in_order if m.starts_at < meeting.starts_at) + 1


def local(meeting: Meeting, when: datetime | None = None) -> datetime:
    """A time (default: the meeting's start) in the set's time zone."""
    return (when or meeting.starts_at).astimezone(ZoneInfo(meeting.learning_set.time_zone))


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
) -> bool:
    """Move or re-place a meeting; a change of time or place is recorded and bumps SEQUENCE."""
    before = len(meeting.changes)
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
        meeting.title = title
    changed = len(meeting.changes) > before
    if changed:
        meeting.sequence += 1
    db.flush()
    return changed


def set_status(db: Session, meeting: Meeting, status: str, reason: str = "") -> bool:
    """Cancel (`cancelled`, with an optional reason) or restore (`scheduled`) a meeting;
    a change of status is recorded and bumps SEQUENCE."""
    if status not in ("scheduled", "cancelled"):
        raise SetError(f"unknown status '{status}'")
    meeting.cancel_reason = reason.strip() if status == "cancelled" else ""
    if meeting.status == status:
        return False
    _record(db, meeting, "status", meeting.status, status)
    meeting.status = status
    meeting.sequence += 1
    db.flush()
    return True


def past_presenters(meeting: Meeting) -> list[list[int]]:
    """Presenters of the set's earlier, not cancelled meetings, oldest first."""
    earlier = [
        m
        for m in meetings_in_order(meeting.learning_set)
        if m.starts_at < meeting.starts_at and m.status != "cancelled"
    ]
    return [[b.presenter_id for b in m.blocks if b.presenter_id] for m in earlier]


def apologies(meeting: Meeting) -> set[int]:
    """Members who have sent apologies for this meeting."""
    return {a.member_id for a in meeting.attendance if a.status == "apologies"}


def proposed_presenters(meeting: Meeting, count: int) -> list[int]:
    """The rota's proposal for this meeting: fewest turns first, skipping apologies."""
    members = [m.id for m in active_members(meeting.learning_set)]
    return propose_rota(members, past_presenters(meeting), apologies(meeting), count)


def apply_template(
    db: Session,
    meeting: Meeting,
    template: SessionTemplate,
    presenters: Sequence[int | None] | None = None,
) -> None:
    """Replace the agenda with the template's blocks; presenter rounds follow the rota."""
    if presenters is None:
        chosen = proposed_presenters(meeting, template.presenters)
        presenters = chosen + [None] * (template.presenters - len(chosen))
    meeting.template_id = template.id
    meeting.blocks.clear()
    db.flush()
    for position, block in enumerate(expand_template(template, presenters)):
        meeting.blocks.append(_row(block, position))
    db.flush()


def _row(block: PlannedBlock, position: int) -> AgendaBlock:
    return AgendaBlock(
        position=position,
        title=block.title,
        kind=block.kind,
        minutes=block.minutes,
        notes=block.notes,
        handout=block.handout,
        presenter_id=block.presenter,
    )


def planned_blocks(meeting: Meeting) -> list[PlannedBlock]:
    """The meeting's agenda rows as plain blocks."""
    return [
        PlannedBlock(b.title, b.kind, b.minutes, b.notes, b.handout, b.presenter_id)
        for b in meeting.blocks
    ]


def agenda(meeting: Meeting) -> list[TimedBlock]:
    """The agenda with clock times in the set's zone."""
    return timed_agenda(local(meeting), meeting.minutes, planned_blocks(meeting))


def overrun(meeting: Meeting) -> Overrun | None:
    """How far the agenda runs past the meeting's slot, if it does."""
    return check_overrun(local(meeting), meeting.minutes, planned_blocks(meeting))


def end_time(meeting: Meeting) -> datetime:
    """When the meeting's slot ends."""
    return meeting.starts_at + timedelta(minutes=meeting.minutes)


def renumber(meeting: Meeting) -> None:
    """Make block positions 0..n-1 in their current order."""
    for position, block in enumerate(sorted(meeting.blocks, key=lambda b: b.position)):
        block.position = position


def move_block(db: Session, meeting: Meeting, block_id: int, step: int) -> None:
    """Move a block up (-1) or down (+1) the agenda."""
    blocks = sorted(meeting.blocks, key=lambda b: b.position)
    index = next((i for i, b in enumerate(blocks) if b.id == block_id), None)
    if index is None:
        raise SetError("that block is not on this agenda")
    target = index + step
    if 0 <= target < len(blocks):
        blocks[index].position, blocks[target].position = (
            blocks[target].position,
            blocks[index].position,
        )
    db.flush()


def set_presenters(db: Session, meeting: Meeting, presenters: Sequence[int | None]) -> None:
    """Override the rota: assign presenters to the presenter rounds in order."""
    members = {m.id for m in active_members(meeting.learning_set)}
    rounds = [b for b in sorted(meeting.blocks, key=lambda b: b.position) if b.kind == "presenter"]
    for block, member_id in zip(rounds, presenters, strict=False):
        if member_id is not None and member_id not in members:
            raise SetError("presenters must be members of this set")
        block.presenter_id = member_id
    db.flush()


def attach(
    db: Session, meeting: Meeting, bank: Bank, case_id: str = "", prompt_id: str = ""
) -> None:
    """Attach a case or prompt from the bank (attaching twice is harmless)."""
    if case_id:
        if case_id not in bank.cases:
            raise SetError(f"no case '{case_id}' in the bank")
        if all(c.case_id != case_id for c in meeting.cases):
            meeting.cases.append(MeetingCase(case_id=case_id, position=len(meeting.cases)))
    if prompt_id:
        if prompt_id not in bank.prompts:
            raise SetError(f"no prompt '{prompt_id}' in the bank")
        if all(p.prompt_id != prompt_id for p in meeting.prompts):
            meeting.prompts.append(
                MeetingPrompt(prompt_id=prompt_id, position=len(meeting.prompts))
            )
    db.flush()


def detach(db: Session, meeting: Meeting, case_id: str = "", prompt_id: str = "") -> None:
    """Remove an attached case or prompt."""
    meeting.cases[:] = [c for c in meeting.cases if c.case_id != case_id]
    meeting.prompts[:] = [p for p in meeting.prompts if p.prompt_id != prompt_id]
    db.flush()


def record_attendance(db: Session, meeting: Meeting, statuses: dict[int, str]) -> None:
    """Record present / apologies / absent for members of the meeting's set."""
    members = {m.id for m in meeting.learning_set.members}
    current = {a.member_id: a for a in meeting.attendance}
    for member_id, status in statuses.items():
        if member_id not in members or status not in ATTENDANCE:
            raise SetError("attendance must be present, apologies or absent for a member")
        if member_id in current:
            current[member_id].status = status
        else:
            meeting.attendance.append(Attendance(member_id=member_id, status=status))
    db.flush()


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
    action = Action(
        set_id=meeting.set_id,
        meeting_id=meeting.id,
        member_id=member_id,
        text=text.strip(),
        due=due.strip(),
        support=support.strip(),
    )
    db.add(action)
    db.flush()
    return action


def update_action(db: Session, action: Action, status: str, outcome: str = "") -> None:
    """Close, drop or reopen an action, with what came of it."""
    if status not in ACTION_STATUSES:
        raise SetError(f"status must be one of {', '.join(ACTION_STATUSES)}")
    action.status = status
    action.outcome = outcome.strip()
    db.flush()


def actions_to_review(db: Session, meeting: Meeting) -> list[Action]:
    """Open actions raised at earlier meetings: they belong in this meeting's action review."""
    earlier = {m.id for m in meeting.learning_set.meetings if m.starts_at < meeting.starts_at}
    return [
        a
        for a in actions_for(db, meeting.learning_set)
        if a.status == "open" and a.meeting_id in earlier
    ]


PROMPT_STAGES_FOR_KIND = {
    "check-in": {"check-in"},
    "presenter": {"clarify", "explore", "challenge", "feelings", "options", "action"},
    "case": {"clarify", "explore", "challenge", "options", "action", "learning"},
    "process-review": {"process-review", "learning"},
    "action-review": {"learning", "action"},
    "close": {"learning"},
}


def suggest_prompts(meeting: Meeting, bank: Bank, limit: int = 8) -> list:
    """Prompts for this agenda's block kinds, those sharing tags with attached cases first."""
    stages = set().union(*(PROMPT_STAGES_FOR_KIND.get(b.kind, set()) for b in meeting.blocks))
    attached = {p.prompt_id for p in meeting.prompts}
    case_tags = [bank.cases[c.case_id].tags for c in meeting.cases if c.case_id in bank.cases]
    wanted_hlm = {t for tags in case_tags for t in tags.hlm}
    wanted_mlcf = {t.split(".")[0] for tags in case_tags for t in tags.mlcf}

    def score(prompt) -> int:
        return len(wanted_hlm & set(prompt.tags.hlm)) + len(
            wanted_mlcf & {t.split(".")[0] for t in prompt.tags.mlcf}
        )

    found = [p for p in bank.prompts.values() if p.stage in stages and p.id not in attached]
    found.sort(key=lambda p: (-score(p), p.stage, p.id))
    return found[:limit]


def next_meeting(learning_set: LearningSet, now: datetime | None = None) -> Meeting | None:
    """The set's next scheduled meeting that has not started yet."""
    now = now or datetime.now(ZoneInfo("UTC"))
    upcoming = [m for m in meetings_in_order(learning_set) if m.status != "cancelled"]
    return next((m for m in upcoming if m.starts_at >= now), None)


def _block(meeting: Meeting, block_id: int) -> AgendaBlock:
    block = next((b for b in meeting.blocks if b.id == block_id), None)
    if block is None:
        raise SetError("that block is not on this agenda")
    return block


def add_block(
    db: Session,
    meeting: Meeting,
    title: str,
    kind: str,
    minutes: int,
    notes: str = "",
    handout: bool = True,
) -> AgendaBlock:
    """Append a block to the agenda."""
    if minutes < 1:
        raise SetError("a block needs at least 1 minute")
    block = _row(PlannedBlock(title.strip(), kind, minutes, notes.strip(), handout), 0)
    block.position = max((b.position for b in meeting.blocks), default=-1) + 1
    meeting.blocks.append(block)
    db.flush()
    return block


def update_block(db: Session, meeting: Meeting, block_id: int, title: str, minutes: str) -> None:
    """Rename a block or change its minutes."""
    block = _block(meeting, block_id)
    if not minutes.strip().isdigit() or not 1 <= int(minutes) <= 600:
        raise SetError("minutes must be a whole number from 1 to 600")
    if not title.strip():
        raise SetError("a block needs a title")
    block.title, block.minutes = title.strip(), int(minutes)
    db.flush()


def remove_block(db: Session, meeting: Meeting, block_id: int) -> None:
    """Take a block off the agenda."""
    meeting.blocks.remove(_block(meeting, block_id))
    renumber(meeting)
    db.flush()


def describe_start(meeting: Meeting) -> str:
    """The meeting's local date and start time, e.g. "Thu 14 Jan 2027, 14:00"."""
    start = local(meeting)
    return f"{start:%a} {start.day} {start:%b %Y}, {start:%H:%M}"


def describe_when(meeting: Meeting) -> str:
    """The meeting's date and local clock times, e.g. "Thu 14 Jan 2027, 14:00 to 17:15"."""
    return f"{describe_start(meeting)} to {local(meeting, end_time(meeting)):%H:%M}"


class Conflict(SetError):
    """Someone else saved a change since this form was opened."""


def check_version(row: LearningSet | Meeting, seen: str | int | None) -> None:
    """Refuse a save made from an out-of-date form (optimistic locking)."""
    if str(seen) != str(row.version):
        what = "session" if isinstance(row, Meeting) else "set"
        raise Conflict(
            f"Someone else changed this {what} after you opened the page, so your changes were "
            "not saved. They are still in the form below: check them against the current "
            "details and save again."
        )


def delete_member(db: Session, member: Member) -> None:
    """Remove a member and their personal data everywhere; presence stays as anonymous counts."""
    for meeting in member.learning_set.meetings:
        if any(a.member_id == member.id and a.status == "present" for a in meeting.attendance):
            meeting.anonymous_present += 1
    for row in db.scalars(select(SentInvite).where(SentInvite.member_id == member.id)):
        row.email, row.member_id = "", None
    for action in db.scalars(select(Action).where(Action.member_id == member.id)):
        action.member_id = None
    member.learning_set.members.remove(member)
    db.flush()


def invited_members(db: Session, meeting: Meeting) -> set[int]:
    """Members whose calendar holds this session's invitation, or who are being sent one now."""
    rows = db.scalars(
        select(SentInvite)
        .where(SentInvite.meeting_id == meeting.id, SentInvite.member_id.is_not(None))
        .where(or_(SentInvite.delivered.is_(True), SentInvite.claim.is_not(None)))
        .order_by(SentInvite.id)
    )
    last = {row.member_id: row.method for row in rows}
    return {member_id for member_id, method in last.items() if method == "REQUEST"}


def delete_meeting(db: Session, meeting: Meeting, now: datetime | None = None) -> bool:
    """Delete a session; True when members hold its invitation, so it is only hidden until the
    invites code has sent them the CANCEL and purges it (one that has ended goes at once)."""
    now = now or datetime.now(UTC)
    learning_set = meeting.learning_set
    if end_time(meeting) <= now or not invited_members(db, meeting):
        learning_set.meetings.remove(meeting)
        db.flush()
        return False
    _record(db, meeting, "status", meeting.status, "deleted")
    meeting.status, meeting.deleted_at = "cancelled", now
    meeting.sequence += 1
    meeting.key = f"deleted-{meeting.uid}"  # frees the key for new sessions; the UID stays
    db.flush()
    db.expire(learning_set, ["meetings"])
    return True


def delete_set(db: Session, learning_set: LearningSet) -> None:
    """Delete a set with its members, sessions, attendance, actions and send log.

    One DELETE: the database's ON DELETE CASCADE reaches every table, in the right order.
    """
    db.execute(delete(LearningSet).where(LearningSet.id == learning_set.id))
    db.expire_all()
