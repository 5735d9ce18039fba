"""Importing a checked learning-set file: create the set, or bring it exactly into line."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from toolkit import sets
from toolkit.accounts import create_user
from toolkit.casebank import Bank
from toolkit.db import transaction
from toolkit.jobs import schedule
from toolkit.models import (
    Action,
    AgendaBlock,
    Attendance,
    CustomResource,
    LearningSet,
    Meeting,
    Member,
    Rsvp,
    User,
)
from toolkit.programmes.records import programme_named, programme_names
from toolkit.resources import attach_resource, catalogue, detach_resource
from toolkit.session_templates import SessionTemplate
from toolkit.setfile.read import parse_set_file
from toolkit.setfile.schema import (
    START_FORMAT,
    ActionSpec,
    BlockSpec,
    MessagesEntry,
    Person,
    ResourceEntry,
    SessionSpec,
    SetFile,
)

DETAILS = {
    "title": "title",
    "programme_id": "programme",
    "venue": "venue",
    "video_url": "video link",
    "time_zone": "time zone",
    "ground_rules": "ground rules",
    "messages": "automatic messages",
}


def import_set(
    db: Session, set_file: SetFile, bank: Bank, templates: dict[str, SessionTemplate]
) -> tuple[LearningSet, list[str]]:
    """Create the set a checked file describes, or bring the set with its id up to date."""
    notes: list[str] = []
    owner = _facilitator(db, set_file.facilitator, notes)
    learning_set = db.scalar(select(LearningSet).where(LearningSet.slug == set_file.slug))
    if learning_set is None:
        learning_set = sets.create_set(db, owner, set_file.slug, set_file.title, set_file.time_zone)
        _update_details(db, learning_set, set_file)
        notes.append(f"created the set '{set_file.slug}'")
    else:
        notes += [f"changed the set's {d}" for d in _update_details(db, learning_set, set_file)]
    if owner not in learning_set.facilitators:
        learning_set.facilitators.append(owner)
        notes.append(f"{owner.email} now facilitates the set")
    _sync_resources_library(db, set_file.resources, bank, owner, notes)
    _sync_members(db, learning_set, set_file.members, notes)
    added = _sync_sessions(db, learning_set, set_file.sessions, bank, templates, notes)
    _sync_actions(db, learning_set, set_file.actions, notes)
    # once for all the sessions (each run reads them all): new ones get their proposals here
    for meeting in sets.refresh_rota(db, learning_set, also=added):
        if meeting not in added:
            notes.append(f"{meeting.key}: presenters follow the rota")
    return learning_set, notes + _warnings(learning_set)


def _facilitator(db: Session, person: Person, notes: list[str]) -> User:
    user = db.scalar(select(User).where(User.email == person.email))
    if user is not None:
        return user
    notes.append(f"created an account for {person.email}; it needs a password before sign-in")
    return create_user(db, person.email, None, person.name)


def _update_details(db: Session, learning_set: LearningSet, set_file: SetFile) -> list[str]:
    """Copy the set-level fields from the file; return what changed, in words."""
    programme = programme_named(db, set_file.programme)
    wanted = {
        "title": set_file.title,
        "programme_id": programme.id if programme else None,
        "venue": set_file.venue,
        "video_url": set_file.video_url,
        "time_zone": set_file.time_zone,
        "ground_rules": "\n".join(set_file.ground_rules),
    }
    changed = [field for field, value in wanted.items() if getattr(learning_set, field) != value]
    for field in changed:
        setattr(learning_set, field, wanted[field])
    plan = _plan(set_file.messages)
    if plan != schedule.plan_of(learning_set):
        schedule.set_plan(learning_set, plan)
        changed.append("messages")
    return [DETAILS[field] for field in changed]


def _plan(entry: MessagesEntry) -> schedule.Plan:
    """The file's `messages` as the set's schedule of automatic messages."""
    reminder, follow_up = entry.reminder, entry.follow_up
    return schedule.Plan(
        reminder.days_before if reminder else None,
        reminder.at if reminder else schedule.DEFAULT_CLOCK,
        follow_up.days_after if follow_up else None,
        follow_up.at if follow_up else schedule.DEFAULT_CLOCK,
        entry.self_assessment,
    )


def _resource_fields(entry: ResourceEntry) -> dict[str, str | int]:
    """A file's resource entry as the columns of the facilitators' library."""
    return {
        "title": entry.title,
        "url": entry.url,
        "kind": entry.kind,
        "minutes": entry.minutes,
        "description": entry.description,
        "hlm": " ".join(entry.hlm),
        "mlcf": " ".join(entry.mlcf),
        "gpc": " ".join(entry.gpc),
    }


def _sync_resources_library(
    db: Session, entries: tuple[ResourceEntry, ...], bank: Bank, owner: User, notes: list[str]
) -> None:
    """Add the file's own resources to the library; one already there by that id is kept."""
    for entry in entries:
        fields = _resource_fields(entry)
        row = db.scalar(select(CustomResource).where(CustomResource.slug == entry.id))
        if entry.id in bank.resources or row is not None:
            same = row is not None and all(getattr(row, k) == v for k, v in fields.items())
            if not same:
                notes.append(f"warning: resource '{entry.id}' is already in the library; kept")
            continue
        db.add(CustomResource(slug=entry.id, created_by=owner.id, **fields))
        notes.append(f"added resource '{entry.id}' to the library")
    db.flush()


def _sync_members(
    db: Session, learning_set: LearningSet, members: tuple[Person, ...], notes: list[str]
) -> None:
    current = {m.email: m for m in learning_set.members}
    for person in members:
        member = current.get(person.email)
        if member is None:
            member = Member(name=person.name, email=person.email, grade=person.grade)
            member.active = person.active
            learning_set.members.append(member)
            current[person.email] = member
            notes.append(f"added member {person.name} <{person.email}>")
        elif (member.name, member.grade, member.active) != (
            person.name,
            person.grade,
            person.active,
        ):
            member.name, member.grade, member.active = person.name, person.grade, person.active
            notes.append(f"updated member {person.name} <{person.email}>")
    listed = {p.email for p in members}
    for member in learning_set.members:
        if member.active and member.email not in listed:
            member.active = False
            notes.append(f"removed member {member.name} <{member.email}> (history is kept)")
    db.flush()


def _sync_sessions(
    db: Session,
    learning_set: LearningSet,
    specs: tuple[SessionSpec, ...],
    bank: Bank,
    templates: dict[str, SessionTemplate],
    notes: list[str],
) -> list[Meeting]:
    """Bring the sessions into line with the file; returns those added whose presenters the
    rota is still to propose (the file lists none)."""
    existing = {m.key: m for m in learning_set.meetings}
    added: list[Meeting] = []
    for key in sorted(existing.keys() - {s.key for s in specs}):
        if sets.set_status(db, existing[key], "cancelled"):
            notes.append(f"{key}: not in the file, so cancelled")
    member_ids = {m.email: m.id for m in learning_set.members}
    library = catalogue(db, bank)
    for spec in sorted(specs, key=lambda s: s.start):
        template = templates[spec.template]
        meeting = existing.get(spec.key)
        new = meeting is None
        if meeting is None:
            meeting = _add_session(db, learning_set, spec, template, notes)
            if spec.presenters is None:
                added.append(meeting)
        else:
            _update_session(db, meeting, spec, template, notes)
        _sync_attached(db, meeting, bank, "case", spec.cases, notes)
        _sync_attached(db, meeting, bank, "prompt", spec.prompts, notes)
        for role in ("prework", "reading"):
            _sync_resources(db, meeting, library, role, getattr(spec, role), notes)
        if spec.agenda is not None:
            _sync_agenda(db, meeting, spec.agenda, notes)
        _sync_presenters(db, meeting, spec, member_ids, notes, new)
        _sync_attendance(db, meeting, spec, member_ids, notes)
        _sync_replies(db, meeting, spec, member_ids, notes)
    return added


def _add_session(
    db: Session,
    learning_set: LearningSet,
    spec: SessionSpec,
    template: SessionTemplate,
    notes: list[str],
) -> Meeting:
    meeting = sets.add_meeting(
        db, learning_set, spec.start, template, spec.title, spec.minutes, spec.key, rota=False
    )
    meeting.venue, meeting.video_url, meeting.status = spec.venue, spec.video_url, spec.status
    meeting.cancel_reason = spec.cancel_reason
    notes.append(f"{spec.key}: added for {spec.start:{START_FORMAT}} ({template.id})")
    return meeting


def _update_session(
    db: Session, meeting: Meeting, spec: SessionSpec, template: SessionTemplate, notes: list[str]
) -> None:
    if meeting.title != spec.title:
        notes.append(f"{spec.key}: renamed '{spec.title}'")
    start = spec.start.astimezone(UTC) if spec.start != meeting.starts_at else None
    moved = sets.change_meeting(
        db,
        meeting,
        start=start,
        minutes=spec.minutes,
        venue=spec.venue,
        video_url=spec.video_url,
        title=spec.title,
        refuse_clash=False,
    )
    if moved:
        notes.append(f"{spec.key}: time or place changed (now {spec.start:{START_FORMAT}})")
    if meeting.template_id != template.id:
        sets.apply_template(db, meeting, template)
        notes.append(f"{spec.key}: agenda rebuilt from the '{template.id}' template")
    if sets.set_status(db, meeting, spec.status, spec.cancel_reason):
        notes.append(f"{spec.key}: {spec.status}")


def _sync_attached(
    db: Session, meeting: Meeting, bank: Bank, kind: str, wanted: tuple[str, ...], notes: list[str]
) -> None:
    """Make the meeting's attached cases (or prompts) exactly `wanted`, in that order."""
    field = f"{kind}_id"
    rows = meeting.cases if kind == "case" else meeting.prompts
    have = [getattr(row, field) for row in rows]
    for item_id in [i for i in have if i not in wanted]:
        sets.detach(db, meeting, **{field: item_id})
        notes.append(f"{meeting.key}: detached {kind} '{item_id}'")
    for item_id in [i for i in wanted if i not in have]:
        sets.attach(db, meeting, bank, **{field: item_id})
        notes.append(f"{meeting.key}: attached {kind} '{item_id}'")
    for row in rows:
        row.position = wanted.index(getattr(row, field))
    db.flush()


def _sync_resources(
    db: Session, meeting: Meeting, library: dict, role: str, wanted: tuple[str, ...], notes: list
) -> None:
    """Make the meeting's pre-work (or reading) exactly `wanted`, in that order."""
    have = [r.resource_id for r in meeting.resources if r.role == role]
    for resource_id in [i for i in have if i not in wanted]:
        detach_resource(db, meeting, resource_id, role)
        notes.append(f"{meeting.key}: removed {role} '{resource_id}'")
    for resource_id in [i for i in wanted if i not in have]:
        attach_resource(db, meeting, library, resource_id, role)
        notes.append(f"{meeting.key}: added {role} '{resource_id}'")
    for row in meeting.resources:
        if row.role == role:
            row.position = wanted.index(row.resource_id)
    db.flush()


def _blocks(meeting: Meeting) -> list[AgendaBlock]:
    return sorted(meeting.blocks, key=lambda b: b.position)


def _rounds(meeting: Meeting) -> list[AgendaBlock]:
    return [b for b in _blocks(meeting) if b.kind == "presenter"]


def _spec_of(block: AgendaBlock) -> BlockSpec:
    return BlockSpec(block.title, block.kind, block.minutes, block.notes, block.handout)


def _sync_agenda(
    db: Session, meeting: Meeting, agenda: tuple[BlockSpec, ...], notes: list[str]
) -> None:
    """Make the agenda exactly the file's blocks; presenters stay with their rounds in order."""
    if [_spec_of(b) for b in _blocks(meeting)] == list(agenda):
        return
    presenters = iter([b.presenter_id for b in _rounds(meeting)])
    meeting.blocks.clear()
    db.flush()
    for position, spec in enumerate(agenda):
        presenter = next(presenters, None) if spec.kind == "presenter" else None
        block = AgendaBlock(position=position, presenter_id=presenter, **vars(spec))
        meeting.blocks.append(block)
    db.flush()
    notes.append(f"{meeting.key}: agenda set from the file ({len(agenda)} blocks)")


def _sync_presenters(
    db: Session,
    meeting: Meeting,
    spec: SessionSpec,
    member_ids: dict[str, int],
    notes: list[str],
    new: bool = False,
) -> None:
    """Give the presenter rounds the listed presenters in order; later rounds get none.

    A list, even an empty one, is exact; left out, the agenda's presenters are kept. (A `new`
    session's presenters are simply the file's: no note that they changed.)
    """
    meeting.presenters_by_hand = spec.presenters is not None and spec.presenters_by_hand
    if spec.presenters is None:
        return
    wanted = [member_ids[e] if e else None for e in spec.presenters]
    rounds = _rounds(meeting)
    if len(wanted) > len(rounds):
        extra = len(wanted) - len(rounds)
        notes.append(f"warning: {meeting.key}: {extra} presenter(s) listed beyond the rounds")
    if not rounds:
        return
    padded: list[int | None] = [*wanted, *[None] * len(rounds)][: len(rounds)]
    if [b.presenter_id for b in rounds] != padded:
        for block, member_id in zip(rounds, padded, strict=True):
            block.presenter_id = member_id
        if not new:
            notes.append(f"{meeting.key}: presenters changed")
    db.flush()


def _sync_attendance(
    db: Session, meeting: Meeting, spec: SessionSpec, member_ids: dict[str, int], notes: list[str]
) -> None:
    """Make the meeting's attendance exactly the file's."""
    wanted = {member_ids[email]: status for email, status in spec.attendance}
    have = {a.member_id: a.status for a in meeting.attendance}
    meeting.anonymous_present = spec.present_anonymously
    if wanted == have:
        return
    meeting.attendance[:] = [a for a in meeting.attendance if a.member_id in wanted]
    rows = {a.member_id: a for a in meeting.attendance}
    for member_id, status in wanted.items():
        if member_id in rows:
            rows[member_id].status = status
        else:
            meeting.attendance.append(Attendance(member_id=member_id, status=status))
    db.flush()
    notes.append(f"{meeting.key}: attendance recorded for {len(wanted)} member(s)")


def _sync_replies(
    db: Session, meeting: Meeting, spec: SessionSpec, member_ids: dict[str, int], notes: list[str]
) -> None:
    """Make the members' replies exactly the file's; a reply whose status is unchanged keeps its
    note and where it came from. The register is the file's `attendance`, left as it is."""
    wanted = {member_ids[email]: status for email, status in spec.rsvp}
    if wanted == {r.member_id: r.status for r in meeting.rsvps}:
        return
    meeting.rsvps[:] = [r for r in meeting.rsvps if r.member_id in wanted]
    rows = {r.member_id: r for r in meeting.rsvps}
    for member_id, status in wanted.items():
        row = rows.get(member_id)
        if row is None:
            meeting.rsvps.append(Rsvp(member_id=member_id, status=status, source="import"))
        elif row.status != status:
            row.status, row.note, row.source = status, "", "import"
    db.flush()
    notes.append(f"{meeting.key}: replies recorded for {len(wanted)} member(s)")


def _action_key(action: Action, keys: dict[int, str], emails: dict[int, str]) -> tuple:
    return (keys.get(action.meeting_id), emails.get(action.member_id), action.text)


def _sync_actions(
    db: Session, learning_set: LearningSet, specs: tuple[ActionSpec, ...], notes: list[str]
) -> None:
    """Make the set's actions exactly the file's, keeping rows that match (session, owner, text)."""
    keys = {m.id: m.key for m in learning_set.meetings}
    emails = {m.id: m.email for m in learning_set.members}
    meeting_ids = {m.key: m.id for m in learning_set.meetings}
    member_ids = {m.email: m.id for m in learning_set.members}
    unmatched = sets.actions_for(db, learning_set)
    for spec in specs:
        wanted = (spec.session, spec.owner, spec.text)
        row = next((a for a in unmatched if _action_key(a, keys, emails) == wanted), None)
        if row is None:
            row = Action(set_id=learning_set.id, text=spec.text)
            row.meeting_id = meeting_ids.get(spec.session)
            row.member_id = member_ids.get(spec.owner)
            db.add(row)
            notes.append(f"recorded action '{_short(spec.text)}'")
        else:
            unmatched.remove(row)
        _update_action(row, spec, notes)
    for row in unmatched:
        db.delete(row)
        notes.append(f"removed action '{_short(row.text)}' (not in the file)")
    db.flush()


def _update_action(row: Action, spec: ActionSpec, notes: list[str]) -> None:
    wanted = {"due": spec.due, "support": spec.support, "status": spec.status}
    wanted["outcome"] = spec.outcome
    changed = [k for k, v in wanted.items() if getattr(row, k) != v]
    for key in changed:
        setattr(row, key, wanted[key])
    if changed and row.id is not None:
        notes.append(f"updated action '{_short(row.text)}'")


def _short(text: str) -> str:
    first = text.splitlines()[0] if text else ""
    return first if len(first) <= 50 else first[:47] + "..."


def _warnings(learning_set: LearningSet) -> list[str]:
    found = [sets.size_warning(learning_set)]
    for meeting in sets.meetings_in_order(learning_set):
        late = sets.overrun(meeting) if meeting.status != "cancelled" else None
        found.append(f"{meeting.key}: {late.message()}" if late else None)
    return [f"warning: {w}" for w in found if w]


def import_file(
    sessions: sessionmaker[Session],
    path: Path,
    bank: Bank,
    templates: dict[str, SessionTemplate],
    uploader: int | None = None,
) -> tuple[str, list[str]]:
    """Check a file, then apply it in one transaction; on any error nothing changes.

    With `uploader` (a user id), the set must be new or one that user may change, the file may
    name only them as facilitator unless they are an admin, and they stay among its facilitators.
    """
    with sessions() as db:
        library = catalogue(db, bank)
        user = db.get(User, uploader) if uploader is not None else None
        importer = None if user is None or user.is_admin else user.email
        known = programme_names(db)
    set_file = parse_set_file(path, bank, templates, library, importer, programmes=known)
    with transaction(sessions) as db:
        if uploader is not None:
            _check_uploader(db, set_file.slug, uploader)
        learning_set, notes = import_set(db, set_file, bank, templates)
        user = db.get(User, uploader) if uploader is not None else None
        if user is not None and user not in learning_set.facilitators:
            learning_set.facilitators.append(user)
        return learning_set.slug, notes


def _check_uploader(db: Session, slug: str, uploader: int) -> None:
    existing = db.scalar(select(LearningSet).where(LearningSet.slug == slug))
    user = db.get(User, uploader)
    if existing is not None and (user is None or not sets.can_change(user, existing)):
        raise sets.SetError(f"a set with the id '{slug}' already exists and is not yours to change")
