"""Reading a learning-set file: parse, check every field and reference, and fill in defaults."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from toolkit.accounts import normalise_email
from toolkit.casebank import Bank, Resource
from toolkit.datafiles import DataFileError, Loc, YamlDoc, parse_yaml, read_text, validate
from toolkit.session_templates import SessionTemplate
from toolkit.setfile.schema import (
    DEFAULT_ZONE,
    START_FORMAT,
    ActionEntry,
    ActionSpec,
    BlockSpec,
    MemberEntry,
    Person,
    ResourceEntry,
    ScheduleEntry,
    SessionEntry,
    SessionSpec,
    SetFile,
    SetHeader,
    wall_time_exists,
)
from toolkit.sets import DEFAULT_GROUND_RULES, SetError, check_zone


@dataclass(frozen=True)
class _Item:
    """A valid session entry, its session id and where it is in the file."""

    entry: SessionEntry
    key: str
    loc: Loc


def parse_set_file(
    path: Path,
    bank: Bank,
    templates: dict[str, SessionTemplate],
    library: dict[str, Resource] | None = None,
    importer: str | None = None,
    now: datetime | None = None,
    programmes: Collection[str] | None = None,
) -> SetFile:
    """Read and check a learning-set file; raise DataFileError listing every problem.

    `library` is every resource the importer can already use (default: the bank's);
    `importer`, when given, is the only e-mail the file may name as facilitator;
    `programmes`, when given, the ids (and titles) a file may name as its programme.
    """
    doc = parse_yaml(read_text(path), path)
    raw = _top_mapping(doc)
    if raw is None:
        raise DataFileError(doc.problems)
    header = validate(doc, SetHeader, raw, (), {"importer": importer, "programmes": programmes})
    context = _context(raw, bank, templates, library)
    resources = _entries(doc, ResourceEntry, raw, "resources", context)
    context["resources"] = set(context["resources"]) | {r.id for _, r in resources}
    members = _entries(doc, MemberEntry, raw, "members", context)
    _check_unique(doc, members, "email", "is already a member")
    items = _session_items(doc, raw, context)
    _check_starts(doc, items)
    _check_attendance(doc, items, context["zone"], now or datetime.now(UTC))
    context["sessions"] = _session_keys(raw)
    actions = _entries(doc, ActionEntry, raw, "actions", context)
    if doc.problems or header is None:
        raise DataFileError(dict.fromkeys(doc.problems))
    parts = ([m for _, m in members], items, [a for _, a in actions], [r for _, r in resources])
    return _build(path, header, *parts, templates)


def _top_mapping(doc: YamlDoc) -> dict | None:
    if isinstance(doc.data, dict):
        return doc.data
    if not doc.problems:
        doc.problems.append(doc.problem((), "a learning-set file must be a mapping of fields"))
    return None


def _context(
    raw: dict,
    bank: Bank,
    templates: dict[str, SessionTemplate],
    library: dict[str, Resource] | None,
) -> dict[str, Any]:
    """What field checks compare against: the bank, the templates, the file's own members."""
    return {
        "cases": bank.cases,
        "prompts": bank.prompts,
        "resources": library if library is not None else bank.resources,
        "templates": templates,
        "emails": _listed(raw),
        "zone": _zone_of(raw),
    }


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


def _check_unique(doc: YamlDoc, entries: list[tuple[Loc, Any]], field: str, what: str) -> None:
    first: dict[str, int] = {}
    for loc, entry in entries:
        value = getattr(entry, field)
        if value in first:
            message = f"{value} {what} (line {first[value]})"
            doc.problems.append(doc.problem(loc + (field,), message))
        first.setdefault(value, doc.line_of(loc))


def _session_items(doc: YamlDoc, raw: dict, context: dict) -> list[_Item]:
    if "sessions" in raw and "schedule" in raw:
        doc.problems.append(doc.problem(("schedule",), "give 'sessions' or 'schedule', not both"))
    if "sessions" in raw:
        _check_session_ids(doc, raw["sessions"])
        entries = _entries(doc, SessionEntry, raw, "sessions", context)
        return [_Item(e, e.id or f"session-{loc[1] + 1}", loc) for loc, e in entries]
    if "schedule" in raw:
        return _schedule_items(doc, raw["schedule"], context)
    doc.problems.append(doc.problem((), "list the sessions under 'sessions' or give a 'schedule'"))
    return []


def _key(raw: Any, index: int) -> str:
    """A session's id: as given, else session-N by its place in the list."""
    given = raw.get("id") if isinstance(raw, dict) else None
    return given if isinstance(given, str) and given else f"session-{index + 1}"


def _session_keys(raw: dict) -> set[str]:
    """Every session id the file gives, even for sessions with other problems."""
    if "sessions" in raw:
        sessions = raw["sessions"] if isinstance(raw["sessions"], list) else []
        return {_key(item, i) for i, item in enumerate(sessions)}
    schedule = raw.get("schedule")
    count = schedule.get("count") if isinstance(schedule, dict) else None
    return {f"session-{n + 1}" for n in range(count if isinstance(count, int) else 0)}


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
        items.append(_Item(entry, f"session-{n + 1}", ("schedule",)))
    return items


def _check_starts(doc: YamlDoc, items: list[_Item]) -> None:
    """Two sessions of a set never start at the same moment."""
    first: dict[datetime, _Item] = {}
    for item in items:
        start = item.entry.start
        if start in first and item.loc != ("schedule",):
            other = first[start]
            message = (
                f"start: session '{other.key}' (line {doc.line_of(other.loc)}) already starts at "
                f"{start:{START_FORMAT}}"
            )
            doc.problems.append(doc.problem(item.loc + ("start",), message))
        first.setdefault(start, item)


def _check_attendance(doc: YamlDoc, items: list[_Item], zone: ZoneInfo | None, now: datetime):
    """Presence and absence belong only to sessions that have started; apologies come before."""
    for item in items:
        entry = item.entry
        if zone is None or entry.start.replace(tzinfo=zone) <= now:
            continue
        early = [e for e, status in entry.attendance.items() if status != "apologies"]
        if early or entry.present_anonymously:
            message = (
                f"attendance: session '{item.key}' starts {entry.start:{START_FORMAT}}; "
                "only apologies can be recorded before a session starts"
            )
            doc.problems.append(doc.problem(item.loc + ("attendance",), message))


def _build(
    path: Path,
    header: SetHeader,
    members: list[MemberEntry],
    items: list[_Item],
    actions: list[ActionEntry],
    resources: list[ResourceEntry],
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
        members=tuple(Person(m.name, m.email, m.grade, m.active) for m in members),
        messages=header.messages,
        sessions=tuple(_spec(item, templates[item.entry.template], zone) for item in items),
        actions=tuple(ActionSpec(**a.model_dump()) for a in actions),
        resources=tuple(resources),
    )


def _spec(item: _Item, template: SessionTemplate, zone: ZoneInfo) -> SessionSpec:
    entry = item.entry
    agenda = entry.agenda
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
        presenters=tuple(entry.presenters) if "presenters" in entry.model_fields_set else None,
        status=entry.status,
        agenda=None if agenda is None else tuple(BlockSpec(**b.model_dump()) for b in agenda),
        presenters_by_hand=entry.presenters_from == "hand",
        cancel_reason=entry.cancel_reason,
        attendance=tuple(entry.attendance.items()),
        present_anonymously=entry.present_anonymously,
        rsvp=tuple(entry.rsvp.items()),
    )
