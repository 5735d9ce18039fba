"""Learning-set files: one YAML file that describes a whole set, to import, update and export."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationInfo,
)
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from toolkit.accounts import check_email, create_user, normalise_email
from toolkit.casebank import SLUG, Bank
from toolkit.datafiles import (
    DataFileError,
    Loc,
    YamlDoc,
    parse_yaml,
    read_text,
    validate,
)
from toolkit.db import transaction
from toolkit.models import AgendaBlock, LearningSet, Meeting, User
from toolkit.resources import attach_resource, detach_resource
from toolkit.session_templates import SessionTemplate
from toolkit.sets import (
    DEFAULT_GROUND_RULES,
    SetError,
    active_members,
    add_meeting,
    add_member,
    apply_template,
    attach,
    can_access,
    change_meeting,
    check_zone,
    create_set,
    detach,
    local,
    meetings_in_order,
    overrun,
    set_presenters,
    set_status,
    size_warning,
)

DEFAULT_ZONE = "Europe/London"
START_FORMAT = "%Y-%m-%d %H:%M"
START_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")
DETAILS = {
    "title": "title",
    "programme": "programme",
    "venue": "venue",
    "video_url": "video link",
    "time_zone": "time zone",
    "ground_rules": "ground rules",
}


def _given(info: ValidationInfo, key: str) -> Any:
    """What the caller passed in the validation context under `key` (None when not checking)."""
    return (info.context or {}).get(key)


def _slug(value: str) -> str:
    if not re.match(SLUG, value):
        raise ValueError(f"'{value}' is not an id: use lower-case letters, digits and hyphens")
    return value


def _url(value: str) -> str:
    if value and not re.fullmatch(r"https://\S+", value):
        raise ValueError("give a link starting https://")
    return value


def _rule(value: str) -> str:
    if "\n" in value:
        raise ValueError("write each ground rule on one line")
    return value


def _local_time(value: Any, info: ValidationInfo) -> datetime:
    if not isinstance(value, str) or not START_PATTERN.fullmatch(value.strip()):
        raise ValueError("write the local date and time as YYYY-MM-DD HH:MM, e.g. 2027-01-14 14:00")
    try:
        when = datetime.strptime(value.strip(), START_FORMAT)
    except ValueError:
        raise ValueError(f"'{value}' is not a real date and time") from None
    zone = _given(info, "zone")
    if zone is not None and not wall_time_exists(when, zone):
        raise ValueError(f"{value} does not exist in {zone.key}: the clocks go forward then")
    return when


def _template_id(value: str, info: ValidationInfo) -> str:
    templates = _given(info, "templates")
    if templates is not None and value not in templates:
        raise ValueError(f"unknown session template '{value}' (see `toolkit templates list`)")
    return value


def _in_bank(part: str, noun: str, where: str, command: str):
    """A validator: the id must exist in `bank.<part>` (skipped when no bank is given)."""

    def check(value: str, info: ValidationInfo) -> str:
        bank = _given(info, "bank")
        if bank is not None and value not in getattr(bank, part):
            raise ValueError(f"no {noun} '{value}' in {where} (see `toolkit {command} list`)")
        return value

    return check


def _member_email(value: str, info: ValidationInfo) -> str:
    emails = _given(info, "emails")
    if emails is not None and value not in emails:
        raise ValueError(f"presenter {value} is not among the set's members")
    return value


Slug = Annotated[str, Field(max_length=80), AfterValidator(_slug)]
Email = Annotated[str, Field(max_length=320), AfterValidator(check_email)]
Url = Annotated[str, Field(max_length=500), AfterValidator(_url)]
Rule = Annotated[str, Field(min_length=1), AfterValidator(_rule)]
Zone = Annotated[str, AfterValidator(check_zone)]
LocalTime = Annotated[datetime, PlainValidator(_local_time)]
TemplateId = Annotated[str, AfterValidator(_template_id)]
CaseId = Annotated[str, AfterValidator(_in_bank("cases", "case", "the case bank", "cases"))]
PromptId = Annotated[
    str, AfterValidator(_in_bank("prompts", "prompt", "the prompt bank", "prompts"))
]
ResourceId = Annotated[
    str, AfterValidator(_in_bank("resources", "resource", "the library", "resources"))
]
Presenter = Annotated[Email, AfterValidator(_member_email)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PersonEntry(_Strict):
    """The facilitator in a learning-set file."""

    name: str = Field(min_length=1, max_length=200)
    email: Email


class MemberEntry(PersonEntry):
    """One member in a learning-set file."""

    grade: str = Field(default="", max_length=40)


class SessionEntry(_Strict):
    """One item of a learning-set file's `sessions` list."""

    id: Slug | None = None
    start: LocalTime
    template: TemplateId
    title: str = Field(default="", max_length=200)
    minutes: int | None = Field(default=None, ge=15, le=600)
    venue: str = ""
    video_url: Url = ""
    cases: list[CaseId] = []
    prompts: list[PromptId] = []
    prework: list[ResourceId] = []
    reading: list[ResourceId] = []
    presenters: list[Presenter] = []
    status: Literal["scheduled", "cancelled"] = "scheduled"


class ScheduleEntry(_Strict):
    """A learning-set file's `schedule`: a regular series of sessions."""

    first: LocalTime
    every_weeks: int = Field(ge=1, le=26)
    count: int = Field(ge=1, le=20)
    template: TemplateId


class SetHeader(_Strict):
    """The top level of a learning-set file (members and sessions are checked one by one)."""

    id: Slug
    title: str = Field(min_length=1, max_length=200)
    programme: str = Field(default="", max_length=200)
    timezone: Zone = DEFAULT_ZONE
    facilitator: PersonEntry
    venue: str = ""
    video_url: Url = ""
    ground_rules: list[Rule] | None = None
    members: list[Any] = []
    sessions: list[Any] | None = None
    schedule: Any = None


@dataclass(frozen=True)
class Person:
    """A named person with an e-mail address (lower-case)."""

    name: str
    email: str
    grade: str = ""


@dataclass(frozen=True)
class SessionSpec:
    """One session as the file describes it, with every default filled in."""

    key: str
    start: datetime  # aware, in the set's time zone
    template: str
    title: str
    minutes: int
    venue: str
    video_url: str
    cases: tuple[str, ...]
    prompts: tuple[str, ...]
    prework: tuple[str, ...]
    reading: tuple[str, ...]
    presenters: tuple[str, ...]  # member e-mails, in presenter-round order
    status: str


@dataclass(frozen=True)
class SetFile:
    """A checked learning-set file, ready to import."""

    path: Path
    slug: str
    title: str
    programme: str
    time_zone: str
    facilitator: Person
    venue: str
    video_url: str
    ground_rules: tuple[str, ...]
    members: tuple[Person, ...]
    sessions: tuple[SessionSpec, ...]


@dataclass(frozen=True)
class _Item:
    """A valid session entry and its session id."""

    entry: SessionEntry
    key: str


def parse_set_file(path: Path, bank: Bank, templates: dict[str, SessionTemplate]) -> SetFile:
    """Read and check a learning-set file; raise DataFileError listing every problem."""
    doc = parse_yaml(read_text(path), path)
    raw = _top_mapping(doc)
    if raw is None:
        raise DataFileError(doc.problems)
    zone = _zone_of(raw)
    context = {"bank": bank, "templates": templates, "emails": _listed(raw), "zone": zone}
    header = validate(doc, SetHeader, raw)
    members = _entries(doc, MemberEntry, raw, "members", context)
    _check_members(doc, members)
    items = _session_items(doc, raw, context)
    if doc.problems or header is None:
        raise DataFileError(dict.fromkeys(doc.problems))
    return _build(path, header, [m for _, m in members], items, templates)


def _top_mapping(doc: YamlDoc) -> dict | None:
    if isinstance(doc.data, dict):
        return doc.data
    if not doc.problems:
        doc.problems.append(doc.problem((), "a learning-set file must be a mapping of fields"))
    return None


def _zone_of(raw: dict) -> ZoneInfo | None:
    try:
        return ZoneInfo(check_zone(str(raw.get("timezone", DEFAULT_ZONE))))
    except SetError:
        return None


def _listed(raw: dict) -> set[str]:
    """Every member e-mail the file gives, even for members with other problems."""
    members = raw.get("members")
    if not isinstance(members, list):
        return set()
    found = (m.get("email") for m in members if isinstance(m, dict))
    return {normalise_email(e) for e in found if isinstance(e, str)}


def _entries(
    doc: YamlDoc, model: type, raw: dict, key: str, context: dict
) -> list[tuple[Loc, Any]]:
    values = raw.get(key)
    if not isinstance(values, list):
        return []
    found = []
    for i, value in enumerate(values):
        entry = validate(doc, model, value, (key, i), context)
        if entry is not None:
            found.append(((key, i), entry))
    return found


def _check_members(doc: YamlDoc, members: list[tuple[Loc, MemberEntry]]) -> None:
    first: dict[str, int] = {}
    for loc, member in members:
        if member.email in first:
            message = f"{member.email} is already a member (line {first[member.email]})"
            doc.problems.append(doc.problem(loc + ("email",), message))
        first.setdefault(member.email, doc.line_of(loc))


def _session_items(doc: YamlDoc, raw: dict, context: dict) -> list[_Item]:
    if "sessions" in raw and "schedule" in raw:
        doc.problems.append(doc.problem(("schedule",), "give 'sessions' or 'schedule', not both"))
    if "sessions" in raw:
        _check_session_ids(doc, raw["sessions"])
        entries = _entries(doc, SessionEntry, raw, "sessions", context)
        return [_Item(e, e.id or f"session-{loc[1] + 1}") for loc, e in entries]
    if "schedule" in raw:
        return _schedule_items(doc, raw["schedule"], context)
    doc.problems.append(doc.problem((), "list the sessions under 'sessions' or give a 'schedule'"))
    return []


def _key(raw: Any, index: int) -> str:
    """A session's id: as given, else session-N by its place in the list."""
    given = raw.get("id") if isinstance(raw, dict) else None
    return given if isinstance(given, str) and given else f"session-{index + 1}"


def _check_session_ids(doc: YamlDoc, sessions: Any) -> None:
    first: dict[str, int] = {}
    for i, raw in enumerate(sessions if isinstance(sessions, list) else []):
        key = _key(raw, i)
        if key in first:
            message = f"session id '{key}' is already used (line {first[key]})"
            doc.problems.append(doc.problem(("sessions", i, "id"), message))
        first.setdefault(key, doc.line_of(("sessions", i)))


def _schedule_items(doc: YamlDoc, value: Any, context: dict) -> list[_Item]:
    schedule = validate(doc, ScheduleEntry, value, ("schedule",), context)
    if schedule is None:
        return []
    items = []
    for n in range(schedule.count):
        start = schedule.first + timedelta(weeks=schedule.every_weeks * n)
        if context["zone"] is not None and not wall_time_exists(start, context["zone"]):
            message = f"the series reaches {start:{START_FORMAT}}, which does not exist locally"
            doc.problems.append(doc.problem(("schedule", "first"), message))
        entry = SessionEntry.model_construct(start=start, template=schedule.template)
        items.append(_Item(entry, f"session-{n + 1}"))
    return items


def wall_time_exists(when: datetime, zone: ZoneInfo) -> bool:
    """False for a wall-clock time that the clocks skip when they go forward."""
    there = when.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
    return there.replace(tzinfo=None) == when


def _build(
    path: Path,
    header: SetHeader,
    members: list[MemberEntry],
    items: list[_Item],
    templates: dict[str, SessionTemplate],
) -> SetFile:
    zone = ZoneInfo(header.timezone)
    rules = DEFAULT_GROUND_RULES if header.ground_rules is None else header.ground_rules
    return SetFile(
        path=path,
        slug=header.id,
        title=header.title,
        programme=header.programme,
        time_zone=header.timezone,
        facilitator=Person(header.facilitator.name, header.facilitator.email),
        venue=header.venue,
        video_url=header.video_url,
        ground_rules=tuple(rules),
        members=tuple(Person(m.name, m.email, m.grade) for m in members),
        sessions=tuple(_spec(item, templates[item.entry.template], zone) for item in items),
    )


def _spec(item: _Item, template: SessionTemplate, zone: ZoneInfo) -> SessionSpec:
    entry = item.entry
    return SessionSpec(
        key=item.key,
        start=entry.start.replace(tzinfo=zone),
        template=template.id,
        title=entry.title or template.name,
        minutes=entry.minutes or template.minutes,
        venue=entry.venue,
        video_url=entry.video_url,
        cases=tuple(entry.cases),
        prompts=tuple(entry.prompts),
        prework=tuple(entry.prework),
        reading=tuple(entry.reading),
        presenters=tuple(entry.presenters),
        status=entry.status,
    )


def import_set(
    db: Session, set_file: SetFile, bank: Bank, templates: dict[str, SessionTemplate]
) -> tuple[LearningSet, list[str]]:
    """Create the set a checked file describes, or bring the set with its id up to date."""
    notes: list[str] = []
    owner = _facilitator(db, set_file.facilitator, notes)
    learning_set = db.scalar(select(LearningSet).where(LearningSet.slug == set_file.slug))
    if learning_set is None:
        learning_set = create_set(db, owner, set_file.slug, set_file.title, set_file.time_zone)
        _update_details(learning_set, set_file)
        notes.append(f"created the set '{set_file.slug}'")
    else:
        notes += [f"changed the set's {d}" for d in _update_details(learning_set, set_file)]
    if owner not in learning_set.facilitators:
        learning_set.facilitators.append(owner)
        notes.append(f"{owner.email} now facilitates the set")
    _sync_members(db, learning_set, set_file.members, notes)
    _sync_sessions(db, learning_set, set_file.sessions, bank, templates, notes)
    db.flush()
    return learning_set, notes + _warnings(learning_set)


def _facilitator(db: Session, person: Person, notes: list[str]) -> User:
    user = db.scalar(select(User).where(User.email == person.email))
    if user is not None:
        return user
    notes.append(f"created an account for {person.email}; it needs a password before sign-in")
    return create_user(db, person.email, None, person.name)


def _update_details(learning_set: LearningSet, set_file: SetFile) -> list[str]:
    """Copy the set-level fields from the file; return what changed, in words."""
    wanted = {
        "title": set_file.title,
        "programme": set_file.programme,
        "venue": set_file.venue,
        "video_url": set_file.video_url,
        "time_zone": set_file.time_zone,
        "ground_rules": "\n".join(set_file.ground_rules),
    }
    changed = [field for field, value in wanted.items() if getattr(learning_set, field) != value]
    for field in changed:
        setattr(learning_set, field, wanted[field])
    return [DETAILS[field] for field in changed]


def _sync_members(
    db: Session, learning_set: LearningSet, members: tuple[Person, ...], notes: list[str]
) -> None:
    current = {m.email: m for m in learning_set.members}
    for person in members:
        member = current.get(person.email)
        if member is None:
            add_member(db, learning_set, person.name, person.email, person.grade)
            notes.append(f"added member {person.name} <{person.email}>")
        elif (member.name, member.grade, member.active) != (person.name, person.grade, True):
            member.name, member.grade, member.active = person.name, person.grade, True
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
    sessions: tuple[SessionSpec, ...],
    bank: Bank,
    templates: dict[str, SessionTemplate],
    notes: list[str],
) -> None:
    existing = {m.key: m for m in learning_set.meetings}
    for key in sorted(existing.keys() - {s.key for s in sessions}):
        if set_status(db, existing[key], "cancelled"):
            notes.append(f"{key}: not in the file, so cancelled")
    member_ids = {m.email: m.id for m in active_members(learning_set)}
    for spec in sorted(sessions, key=lambda s: s.start):
        template = templates[spec.template]
        meeting = existing.get(spec.key)
        if meeting is None:
            meeting = _add_session(db, learning_set, spec, template, notes)
        else:
            _update_session(db, meeting, spec, template, notes)
        _sync_attached(db, meeting, bank, "case", spec.cases, notes)
        _sync_attached(db, meeting, bank, "prompt", spec.prompts, notes)
        _sync_resources(db, meeting, bank, "prework", spec.prework, notes)
        _sync_resources(db, meeting, bank, "reading", spec.reading, notes)
        _sync_presenters(db, meeting, [member_ids[e] for e in spec.presenters], notes)


def _add_session(
    db: Session,
    learning_set: LearningSet,
    spec: SessionSpec,
    template: SessionTemplate,
    notes: list[str],
) -> Meeting:
    meeting = add_meeting(
        db, learning_set, spec.start, template, spec.title, spec.minutes, spec.key
    )
    meeting.venue, meeting.video_url, meeting.status = spec.venue, spec.video_url, spec.status
    notes.append(f"{spec.key}: added for {spec.start:{START_FORMAT}} ({template.id})")
    return meeting


def _update_session(
    db: Session, meeting: Meeting, spec: SessionSpec, template: SessionTemplate, notes: list[str]
) -> None:
    if meeting.title != spec.title:
        notes.append(f"{spec.key}: renamed '{spec.title}'")
    start = spec.start.astimezone(UTC) if spec.start != meeting.starts_at else None
    moved = change_meeting(
        db,
        meeting,
        start=start,
        minutes=spec.minutes,
        venue=spec.venue,
        video_url=spec.video_url,
        title=spec.title,
    )
    if moved:
        notes.append(f"{spec.key}: time or place changed (now {spec.start:{START_FORMAT}})")
    if meeting.template_id != template.id:
        apply_template(db, meeting, template)
        notes.append(f"{spec.key}: agenda rebuilt from the '{template.id}' template")
    if set_status(db, meeting, spec.status):
        notes.append(f"{spec.key}: {spec.status}")


def _sync_attached(
    db: Session, meeting: Meeting, bank: Bank, kind: str, wanted: tuple[str, ...], notes: list[str]
) -> None:
    """Make the meeting's attached cases (or prompts) exactly `wanted`, in that order."""
    field = f"{kind}_id"
    rows = meeting.cases if kind == "case" else meeting.prompts
    have = [getattr(row, field) for row in rows]
    for item_id in [i for i in have if i not in wanted]:
        detach(db, meeting, **{field: item_id})
        notes.append(f"{meeting.key}: detached {kind} '{item_id}'")
    for item_id in [i for i in wanted if i not in have]:
        attach(db, meeting, bank, **{field: item_id})
        notes.append(f"{meeting.key}: attached {kind} '{item_id}'")
    for row in rows:
        row.position = wanted.index(getattr(row, field))
    db.flush()


def _sync_resources(
    db: Session, meeting: Meeting, bank: Bank, role: str, wanted: tuple[str, ...], notes: list[str]
) -> None:
    """Make the meeting's pre-work (or reading) exactly `wanted`, in that order."""
    have = [r.resource_id for r in meeting.resources if r.role == role]
    for resource_id in [i for i in have if i not in wanted]:
        detach_resource(db, meeting, resource_id, role)
        notes.append(f"{meeting.key}: removed {role} '{resource_id}'")
    for resource_id in [i for i in wanted if i not in have]:
        attach_resource(db, meeting, bank.resources, resource_id, role)
        notes.append(f"{meeting.key}: added {role} '{resource_id}'")
    for row in meeting.resources:
        if row.role == role:
            row.position = wanted.index(row.resource_id)
    db.flush()


def _rounds(meeting: Meeting) -> list[AgendaBlock]:
    blocks = sorted(meeting.blocks, key=lambda b: b.position)
    return [b for b in blocks if b.kind == "presenter"]


def _sync_presenters(db: Session, meeting: Meeting, wanted: list[int], notes: list[str]) -> None:
    """Give the presenter rounds the listed presenters in order; later rounds get none."""
    rounds = _rounds(meeting)
    if len(wanted) > len(rounds):
        extra = len(wanted) - len(rounds)
        notes.append(
            f"warning: {meeting.key}: {extra} presenter(s) listed beyond the agenda's rounds"
        )
    if not wanted or not rounds:
        return
    padded: list[int | None] = [*wanted, *[None] * len(rounds)][: len(rounds)]
    if [b.presenter_id for b in rounds] != padded:
        set_presenters(db, meeting, padded)
        notes.append(f"{meeting.key}: presenters changed")


def _warnings(learning_set: LearningSet) -> list[str]:
    found = [size_warning(learning_set)]
    for meeting in meetings_in_order(learning_set):
        late = overrun(meeting) if meeting.status != "cancelled" else None
        found.append(f"{meeting.key}: {late.message()}" if late else None)
    return [f"warning: {w}" for w in found if w]


def export_set(learning_set: LearningSet) -> str:
    """The set as a learning-set file (`sessions` form) that imports back unchanged."""
    data: dict[str, Any] = {"id": learning_set.slug, "title": learning_set.title}
    data |= _optional(programme=learning_set.programme)
    data["timezone"] = learning_set.time_zone
    data["facilitator"] = _owner(learning_set)
    data |= _optional(venue=learning_set.venue, video_url=learning_set.video_url)
    data["ground_rules"] = [r.strip() for r in learning_set.ground_rules.splitlines() if r.strip()]
    members = active_members(learning_set)
    data["members"] = [
        {"name": m.name, "email": m.email} | _optional(grade=m.grade) for m in members
    ]
    emails = {m.id: m.email for m in members}
    data["sessions"] = [_session_data(m, emails) for m in meetings_in_order(learning_set)]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=4096)


def _optional(**fields: str) -> dict[str, str]:
    return {key: value for key, value in fields.items() if value}


def _owner(learning_set: LearningSet) -> dict[str, str]:
    """The facilitator who has had an account longest (co-facilitators are not exported)."""
    owner = min(learning_set.facilitators, key=lambda u: u.id)
    return {"name": owner.name, "email": owner.email}


def _session_data(meeting: Meeting, emails: dict[int, str]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": meeting.key,
        "start": local(meeting).strftime(START_FORMAT),
        "template": meeting.template_id,
        "title": meeting.title,
        "minutes": meeting.minutes,
    }
    data |= _optional(venue=meeting.venue, video_url=meeting.video_url)
    data["cases"] = [c.case_id for c in sorted(meeting.cases, key=lambda c: c.position)]
    data["prompts"] = [p.prompt_id for p in sorted(meeting.prompts, key=lambda p: p.position)]
    for role in ("prework", "reading"):
        rows = sorted((r for r in meeting.resources if r.role == role), key=lambda r: r.position)
        data |= {role: [r.resource_id for r in rows]} if rows else {}
    presenters = [emails[b.presenter_id] for b in _rounds(meeting) if b.presenter_id in emails]
    data |= {"presenters": presenters} if presenters else {}
    data |= {"status": "cancelled"} if meeting.status == "cancelled" else {}
    return data


def import_file(
    sessions: sessionmaker[Session],
    path: Path,
    bank: Bank,
    templates: dict[str, SessionTemplate],
    uploader: int | None = None,
) -> tuple[str, list[str]]:
    """Check a file, then apply it in one transaction; on any error nothing changes.

    With `uploader` (a user id), the set must be new or one that user may change, and the
    uploader stays among its facilitators.
    """
    set_file = parse_set_file(path, bank, templates)
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
    if existing is not None and (user is None or not can_access(user, existing)):
        raise SetError(f"a set with the id '{slug}' already exists and is not yours to change")
