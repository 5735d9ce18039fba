"""Learning sets, their members and meetings: the service functions the web and CLI share."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from toolkit import limits
from toolkit.accounts import check_email
from toolkit.casebank import Bank, Case
from toolkit.models import (
    Action,
    AgendaBlock,
    Attendance,
    LearningSet,
    Meeting,
    MeetingCase,
    MeetingChange,
    MeetingPrompt,
    MeetingResource,
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
from toolkit.text import one_line

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
        if len(name) > limits.TIME_ZONE:
            raise ValueError(name)
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
        shown = one_line(name)[: limits.TIME_ZONE]
        raise SetError(f"unknown time zone '{shown}' (use a name such as Europe/London)") from None
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
        ground_rules="\n".join(DEFAULT_GROUND_RULES),
        feed_token=secrets.token_urlsafe(24),
    )
    change_set(db, learning_set, title, time_zone=time_zone, **fields)
    learning_set.facilitators.append(owner)
    db.add(learning_set)
    db.flush()
    return learning_set


def change_set(
    db: Session,
    learning_set: LearningSet,
    title: str,
    programme: str = "",
    venue: str = "",
    video_url: str = "",
    time_zone: str = "Europe/London",
) -> None:
    """Set the set's details: one-line values lose line breaks, and each keeps to its limit."""
    learning_set.title = line(title, limits.TITLE, "title")
    learning_set.programme = line(programme, limits.PROGRAMME, "programme")
    learning_set.venue = text_field(venue, limits.VENUE, "venue")
    learning_set.video_url = line(video_url, limits.URL, "video link")
    learning_set.time_zone = check_zone(time_zone)
    db.flush()


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
    check_room(len(learning_set.members), limits.MEMBERS, "members")
    name, grade = line(name, limits.NAME, "name"), line(grade or "", limits.GRADE, "grade")
    member = Member(name=name, email=email, grade=grade)
    learning_set.members.append(member)
    touch(learning_set)
    db.flush()
    refresh_rota(db, learning_set)
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
    check_room(len(learning_set.meetings), limits.SESSIONS, "sessions")
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
    check_room(len(learning_set.meetings) + count - 1, limits.SESSIONS, "sessions")
    return [add_meeting(db, learning_set, start, template) for start in starts]


def check_room(have: int, cap: int, what: str) -> None:
    """Refuse one more of something a set or session already holds its cap of."""
    if have >= cap:
        raise SetError(f"A learning set can have at most {cap} {what}; nothing was added.")


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
    now: datetime | None = None,
) -> bool:
    """Move or re-place a meeting; a change of time or place is recorded and bumps SEQUENCE.

    A session with presence or absence recorded has been held: it cannot move to a time still
    to come (its attendance would then be a record of the future).
    """
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


def presenter_rounds(meeting: Meeting) -> list[AgendaBlock]:
    """The agenda's presenter rounds, in agenda order."""
    return [b for b in sorted(meeting.blocks, key=lambda b: b.position) if b.kind == "presenter"]


def in_rota(meeting: Meeting) -> bool:
    """Whether a session counts in the rota: not cancelled and not deleted."""
    return meeting.status != "cancelled" and meeting.deleted_at is None


def presented(meeting: Meeting) -> list[int]:
    """Who presents at a session: its presenters less any who sent apologies or were absent."""
    away = {a.member_id for a in meeting.attendance if a.status != "present"}
    return [
        b.presenter_id for b in presenter_rounds(meeting) if b.presenter_id not in away | {None}
    ]


def past_presenters(meeting: Meeting) -> list[list[int]]:
    """Who presented at the set's earlier sessions that count, oldest first."""
    earlier = [
        m
        for m in meetings_in_order(meeting.learning_set)
        if m.starts_at < meeting.starts_at and in_rota(m)
    ]
    return [presented(m) for m in earlier]


def apologies(meeting: Meeting) -> set[int]:
    """Members who have sent apologies for this meeting."""
    return {a.member_id for a in meeting.attendance if a.status == "apologies"}


def proposed_presenters(meeting: Meeting, count: int) -> list[int]:
    """The rota's proposal for this meeting: fewest turns first, skipping apologies."""
    members = [m.id for m in active_members(meeting.learning_set)]
    return propose_rota(members, past_presenters(meeting), apologies(meeting), count)


def follows_rota(meeting: Meeting, now: datetime | None = None) -> bool:
    """Whether the rota still chooses this session's presenters: not set by hand, not started."""
    now = now or datetime.now(UTC)
    return in_rota(meeting) and not meeting.presenters_by_hand and meeting.starts_at > now


def refresh_rota(
    db: Session,
    learning_set: LearningSet,
    since: datetime | None = None,
    now: datetime | None = None,
) -> list[Meeting]:
    """Re-propose presenters for the sessions from `since` on (all when None) that follow the rota.

    Sessions go in start order, so each sees the presenters just chosen for the ones before it;
    call this after any change to the rota's inputs. Returns the sessions whose presenters changed.
    """
    now = now or datetime.now(UTC)
    members = [m.id for m in active_members(learning_set)]
    history: list[list[int]] = []
    changed: list[Meeting] = []
    for meeting in filter(in_rota, meetings_in_order(learning_set)):
        due = (since is None or meeting.starts_at >= since) and follows_rota(meeting, now)
        if due and _assign(meeting, _proposal(meeting, members, history)):
            changed.append(meeting)
        history.append(presented(meeting))
    db.flush()
    return changed


def _proposal(meeting: Meeting, members: list[int], history: list[list[int]]) -> list[int]:
    count = len(presenter_rounds(meeting))
    return propose_rota(members, history, apologies(meeting), count)


def _assign(meeting: Meeting, chosen: Sequence[int | None]) -> bool:
    """Give the presenter rounds `chosen` in order (the rest nobody); True if anything changed."""
    rounds = presenter_rounds(meeting)
    wanted = [*chosen, *[None] * len(rounds)][: len(rounds)]
    if [b.presenter_id for b in rounds] == wanted:
        return False
    for block, member_id in zip(rounds, wanted, strict=True):
        block.presenter_id = member_id
    touch(meeting)
    return True


def use_rota(db: Session, meeting: Meeting) -> None:
    """Let the rota choose this session's presenters again, as it does for later sessions."""
    meeting.presenters_by_hand = False
    _assign(meeting, proposed_presenters(meeting, len(presenter_rounds(meeting))))
    db.flush()
    refresh_rota(db, meeting.learning_set, meeting.starts_at)


def apply_template(
    db: Session,
    meeting: Meeting,
    template: SessionTemplate,
    presenters: Sequence[int | None] | None = None,
    bank: Bank | None = None,
) -> None:
    """Replace the agenda with the template's blocks; presenter rounds follow the rota.

    With `bank`, attached cases get their case blocks back (see `attach`).
    """
    touch(meeting)
    meeting.presenters_by_hand = presenters is not None
    if presenters is None:
        chosen = proposed_presenters(meeting, template.presenters)
        presenters = chosen + [None] * (template.presenters - len(chosen))
    meeting.template_id = template.id
    meeting.blocks.clear()
    db.flush()
    for position, block in enumerate(expand_template(template, presenters)):
        meeting.blocks.append(_row(block, position))
    if bank is not None:
        _restore_case_blocks(db, meeting, bank)
    db.flush()
    refresh_rota(db, meeting.learning_set, meeting.starts_at)


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
    if not 0 <= target < len(blocks):
        return
    blocks[index].position, blocks[target].position = (
        blocks[target].position,
        blocks[index].position,
    )
    touch(meeting)
    db.flush()
    if "presenter" in (blocks[index].kind, blocks[target].kind):
        refresh_rota(db, meeting.learning_set, meeting.starts_at)


def set_presenters(db: Session, meeting: Meeting, presenters: Sequence[int | None]) -> None:
    """Override the rota: assign presenters to the rounds in order; later sessions follow suit."""
    members = {m.id for m in active_members(meeting.learning_set)}
    for block, member_id in zip(presenter_rounds(meeting), presenters, strict=False):
        if member_id is not None and member_id not in members:
            raise SetError("presenters must be members of this set")
        block.presenter_id = member_id
    meeting.presenters_by_hand = True
    touch(meeting)
    db.flush()
    refresh_rota(db, meeting.learning_set, meeting.starts_at)


def attach(
    db: Session,
    meeting: Meeting,
    bank: Bank,
    case_id: str = "",
    prompt_id: str = "",
    with_block: bool = True,
) -> AgendaBlock | None:
    """Attach a case or prompt from the bank (attaching twice is harmless).

    A case also gets a block of its own minutes just before process review, and that block is
    returned; but the first case fills the agenda's own case blocks (e.g. the case-discussion
    template's) when it has them, and `with_block=False` adds no block (for an importer that
    restores an exact agenda).
    """
    block = _attach_case(db, meeting, bank, case_id, with_block) if case_id else None
    if prompt_id:
        if prompt_id not in bank.prompts:
            raise SetError(f"no prompt '{prompt_id}' in the bank")
        if all(p.prompt_id != prompt_id for p in meeting.prompts):
            check_room(len(meeting.prompts), limits.PROMPTS, "prompts in a session")
            meeting.prompts.append(
                MeetingPrompt(prompt_id=prompt_id, position=next_position(meeting.prompts))
            )
    touch(meeting)
    db.flush()
    return block


def _attach_case(
    db: Session, meeting: Meeting, bank: Bank, case_id: str, with_block: bool
) -> AgendaBlock | None:
    if case_id not in bank.cases:
        raise SetError(f"no case '{case_id}' in the bank")
    if any(c.case_id == case_id for c in meeting.cases):
        return None
    check_room(len(meeting.cases), limits.CASES, "cases in a session")
    needs_block = with_block and not _fills_slot(meeting, case_id)
    meeting.cases.append(MeetingCase(case_id=case_id, position=next_position(meeting.cases)))
    return add_case_block(db, meeting, bank.cases[case_id]) if needs_block else None


def next_position(rows: Sequence[MeetingCase | MeetingPrompt | MeetingResource]) -> int:
    """A place after every row already there (a count would repeat one after a removal)."""
    return max((row.position for row in rows), default=-1) + 1


def detach(
    db: Session, meeting: Meeting, case_id: str = "", prompt_id: str = "", with_block: bool = True
) -> None:
    """Remove an attached case (and, `with_block`, the block `attach` added for it) or prompt."""
    if case_id and with_block:
        remove_case_block(db, meeting, case_id)
    meeting.cases[:] = [c for c in meeting.cases if c.case_id != case_id]
    meeting.prompts[:] = [p for p in meeting.prompts if p.prompt_id != prompt_id]
    touch(meeting)
    db.flush()


# A case's block names the case in its notes as "(case bank: <id>)"; that is the link
# `detach` follows, so the block may be renamed, moved or re-timed and still goes with its case.
CASE_LINK = re.compile(r"\(case bank: ([^()\s]+)\)")


def case_block_notes(case: Case) -> str:
    """Facilitator notes for a case's agenda block, naming the case so the block stays linked."""
    return (
        f"Work through '{case.title}' (case bank: {case.id}): the scenario and questions are in "
        "the handout, the facilitator notes in the facilitator pack."
    )


def linked_case(block: AgendaBlock) -> str | None:
    """The id of the case a block was added for, if it is such a block."""
    found = CASE_LINK.search(block.notes or "") if block.kind == "case" else None
    return found.group(1) if found else None


def case_block(meeting: Meeting, case_id: str) -> AgendaBlock | None:
    """The block added to the agenda for an attached case, if it has one."""
    return next((b for b in meeting.blocks if linked_case(b) == case_id), None)


def _fills_slot(meeting: Meeting, case_id: str) -> bool:
    """Whether the agenda has case blocks of its own that no other attached case uses yet."""
    slot = any(b.kind == "case" and linked_case(b) is None for b in meeting.blocks)
    others = [c.case_id for c in meeting.cases if c.case_id != case_id]
    return slot and all(case_block(meeting, other) is not None for other in others)


def _case_position(meeting: Meeting) -> int:
    """Where a case block goes: before process review, else before the close, else last."""
    for kind in ("process-review", "close"):
        found = [b.position for b in meeting.blocks if b.kind == kind]
        if found:
            return min(found)
    return len(meeting.blocks)


def add_case_block(db: Session, meeting: Meeting, case: Case) -> AgendaBlock:
    """Put a block for `case`, timed by the case's own minutes, just before process review."""
    renumber(meeting)
    position = _case_position(meeting)
    for b in meeting.blocks:
        b.position += b.position >= position
    title = f"Case: {case.title}"[:200]
    block = _row(PlannedBlock(title, "case", case.minutes, case_block_notes(case)), position)
    meeting.blocks.append(block)
    meeting.blocks.sort(key=lambda b: b.position)
    db.flush()
    return block


def remove_case_block(db: Session, meeting: Meeting, case_id: str) -> None:
    """Take the block added for an attached case off the agenda (none: nothing to do)."""
    block = case_block(meeting, case_id)
    if block is not None:
        meeting.blocks.remove(block)
        renumber(meeting)
        db.flush()


def _restore_case_blocks(db: Session, meeting: Meeting, bank: Bank) -> None:
    """After a rebuild: the first attached case fills the agenda's case blocks, if any."""
    slot_free = any(b.kind == "case" for b in meeting.blocks)
    for row in sorted(meeting.cases, key=lambda c: c.position):
        case = bank.cases.get(row.case_id)
        if case is not None and not slot_free:
            add_case_block(db, meeting, case)
        slot_free = False


def has_started(meeting: Meeting, now: datetime | None = None) -> bool:
    """Whether the session's start has passed: attendance and certificates wait for it."""
    return meeting.starts_at <= (now or datetime.now(UTC))


def check_started(meeting: Meeting, now: datetime | None = None) -> None:
    """Refuse attendance for a session that has not started yet, saying when it can be recorded."""
    if not has_started(meeting, now):
        raise SetError(
            "You can record attendance once the session has started "
            f"({describe_start(meeting)}); until then, only apologies."
        )


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
    title, notes = line(title, limits.TITLE, "title"), text_field(notes, limits.NOTES, "notes")
    check_room(len(meeting.blocks), limits.BLOCKS, "agenda blocks in a session")
    block = _row(PlannedBlock(title, kind, minutes, notes, handout), 0)
    block.position = max((b.position for b in meeting.blocks), default=-1) + 1
    meeting.blocks.append(block)
    touch(meeting)
    db.flush()
    if kind == "presenter":
        refresh_rota(db, meeting.learning_set, meeting.starts_at)
    return block


def update_block(db: Session, meeting: Meeting, block_id: int, title: str, minutes: str) -> None:
    """Rename a block or change its minutes."""
    block = _block(meeting, block_id)
    if not minutes.strip().isdigit() or not 1 <= int(minutes) <= 600:
        raise SetError("minutes must be a whole number from 1 to 600")
    if not one_line(title):
        raise SetError("a block needs a title")
    block.title, block.minutes = line(title, limits.TITLE, "title"), int(minutes)
    touch(meeting)
    db.flush()


def remove_block(db: Session, meeting: Meeting, block_id: int) -> None:
    """Take a block off the agenda; removing a presenter round re-proposes the rota from here."""
    block = _block(meeting, block_id)
    meeting.blocks.remove(block)
    renumber(meeting)
    touch(meeting)
    db.flush()
    if block.kind == "presenter":
        refresh_rota(db, meeting.learning_set, meeting.starts_at)


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
    """Refuse a save made from an out-of-date form (optimistic locking); a request that carries
    no version at all (a script, not one of our pages) is not checked."""
    if seen not in (None, "") and str(seen) != str(row.version):
        what = "session" if isinstance(row, Meeting) else "set"
        raise Conflict(
            f"Someone else changed this {what} after you opened the page, so your changes were "
            "not saved. They are still in the form below: check them against the current "
            "details and save again."
        )


def touch(row: LearningSet | Meeting) -> None:
    """Count a change to the row's children (blocks, attendance, members…) as a change to the
    row, so its version rises and forms opened before it are refused (see `check_version`)."""
    row.title = row.title  # loads it if expired: flag_modified needs the value
    flag_modified(row, "title")


def line(value: str, limit: int, what: str) -> str:
    """A one-line value (line breaks become spaces), refused when longer than its column."""
    value = one_line(value or "")
    if len(value) > limit:
        raise SetError(f"the {what} is {len(value)} characters long; the limit is {limit}")
    return value


def text_field(value: str, limit: int, what: str) -> str:
    """A free-text value, trimmed, refused when longer than its limit."""
    value = (value or "").strip()
    if len(value) > limit:
        raise SetError(f"the {what} is {len(value)} characters long; the limit is {limit}")
    return value


def delete_member(db: Session, member: Member) -> None:
    """Remove a member and their personal data everywhere; presence stays as anonymous counts."""
    for meeting in member.learning_set.meetings:
        if any(a.member_id == member.id and a.status == "present" for a in meeting.attendance):
            meeting.anonymous_present += 1
    for row in db.scalars(select(SentInvite).where(SentInvite.member_id == member.id)):
        row.email, row.member_id = "", None
    for action in db.scalars(select(Action).where(Action.member_id == member.id)):
        action.member_id = None
    learning_set = member.learning_set
    learning_set.members.remove(member)
    touch(learning_set)
    db.flush()
    refresh_rota(db, learning_set)


def remove_member(db: Session, member: Member) -> None:
    """Take a member off the set, keeping their history; later sessions' rota closes the gap."""
    member.active = False
    touch(member.learning_set)
    db.flush()
    refresh_rota(db, member.learning_set)


def update_member(db: Session, member: Member, name: str, grade: str) -> None:
    """Correct a member's name or grade (their e-mail is how invites reach them: remove and add
    them again to change it)."""
    if not one_line(name or ""):
        raise SetError("enter the member's name")
    member.name = line(name, limits.NAME, "name")
    member.grade = line(grade or "", limits.GRADE, "grade")
    touch(member.learning_set)
    db.flush()


def set_ground_rules(db: Session, learning_set: LearningSet, text: str) -> None:
    """Replace the set's ground rules: one per line, blank lines dropped."""
    rules = [one_line(rule) for rule in (text or "").splitlines() if one_line(rule)]
    learning_set.ground_rules = text_field("\n".join(rules), limits.GROUND_RULES, "ground rules")
    touch(learning_set)
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


def delete_set(db: Session, learning_set: LearningSet) -> None:
    """Delete a set with its members, sessions, attendance, actions and send log.

    One DELETE: the database's ON DELETE CASCADE reaches every table, in the right order.
    """
    db.execute(delete(LearningSet).where(LearningSet.id == learning_set.id))
    db.expire_all()
