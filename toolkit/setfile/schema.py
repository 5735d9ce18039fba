"""What a learning-set file may hold: field rules (pydantic) and the checked result."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationInfo,
)

from toolkit import limits
from toolkit.accounts import check_email
from toolkit.casebank import RESOURCE_KINDS, SLUG, _Tagged
from toolkit.clock_changes import wall_time_exists
from toolkit.replies import STATUSES as REPLY_STATUSES
from toolkit.session_templates import BLOCK_KINDS
from toolkit.sets import ACTION_STATUSES, ATTENDANCE, check_zone

DEFAULT_ZONE = "Europe/London"
START_FORMAT = "%Y-%m-%d %H:%M"
START_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")
# the most facilitator-added resources a set's sessions can use (pre-work and reading each)
MAX_RESOURCES = limits.SESSIONS * 2 * limits.RESOURCES


def given(info: ValidationInfo, key: str) -> Any:
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


def _one_line(value: str) -> str:
    if re.search(r"[\r\n\x85\u2028\u2029]", value):
        raise ValueError("write this on one line")
    return value


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL character (\\0); remove it")
    return value


def _local_time(value: Any, info: ValidationInfo) -> datetime:
    if not isinstance(value, str) or not START_PATTERN.fullmatch(value.strip()):
        raise ValueError("write the local date and time as YYYY-MM-DD HH:MM, e.g. 2027-01-14 14:00")
    try:
        when = datetime.strptime(value.strip(), START_FORMAT)
    except ValueError:
        raise ValueError(f"'{value}' is not a real date and time") from None
    zone = given(info, "zone")
    if zone is not None and not wall_time_exists(when, zone):
        raise ValueError(f"{value} does not exist in {zone.key}: the clocks go forward then")
    return when


def _template_id(value: str, info: ValidationInfo) -> str:
    templates = given(info, "templates")
    if templates is not None and value not in templates:
        raise ValueError(f"unknown session template '{value}' (see `toolkit templates list`)")
    return value


def _in(key: str, noun: str, where: str, command: str | None = None):
    """A validator: the id must be in the context's collection `key` (skipped when absent);
    `command` names the `toolkit … list` that shows the collection, when one does."""
    see = f" (see `toolkit {command} list`)" if command else ""

    def check(value: str, info: ValidationInfo) -> str:
        known = given(info, key)
        if known is not None and value not in known:
            raise ValueError(f"no {noun} '{value}' in {where}{see}")
        return value

    return check


def _member_email(value: str, info: ValidationInfo) -> str:
    emails = given(info, "emails")
    if emails is not None and value not in emails:
        raise ValueError(f"{value} is not among the set's members")
    return value


def _facilitator_email(value: str, info: ValidationInfo) -> str:
    importer = given(info, "importer")
    if importer is not None and value != importer:
        raise ValueError(
            f"you can name only yourself ({importer}) as the facilitator; "
            "an admin can import a set for someone else"
        )
    return value


def _programme(value: str, info: ValidationInfo) -> str:
    """A programme's id; an older file's free-text programme (not shaped like an id) is matched
    by title on import, or becomes a programme of its own."""
    known = given(info, "programmes")
    if known is None or not value or value in known or not re.fullmatch(SLUG, value):
        return value
    raise ValueError(f"no programme '{value}' (see `toolkit programmes list`)")


def _rules_fit(rules: list[str] | None) -> list[str] | None:
    size = len("\n".join(rules or []))
    if size > limits.GROUND_RULES:
        raise ValueError(
            f"the rules are {size} characters long; the limit is {limits.GROUND_RULES}"
        )
    return rules


Text = Annotated[str, AfterValidator(_no_nul)]
Line = Annotated[Text, AfterValidator(_one_line)]
Slug = Annotated[str, Field(max_length=limits.SLUG), AfterValidator(_slug)]
BankId = Annotated[str, Field(max_length=limits.BANK_ID), AfterValidator(_slug)]
Email = Annotated[str, Field(max_length=limits.EMAIL), AfterValidator(check_email)]
Url = Annotated[str, Field(max_length=limits.URL), AfterValidator(_url)]
Rule = Annotated[Line, Field(min_length=1, max_length=limits.GROUND_RULES)]  # as the web allows
Zone = Annotated[str, AfterValidator(check_zone)]
LocalTime = Annotated[datetime, PlainValidator(_local_time)]
TemplateId = Annotated[str, AfterValidator(_template_id)]
CaseId = Annotated[str, AfterValidator(_in("cases", "case", "the case bank", "cases"))]
PromptId = Annotated[str, AfterValidator(_in("prompts", "prompt", "the prompt bank", "prompts"))]
ResourceId = Annotated[
    str, AfterValidator(_in("resources", "resource", "the library or the file", "resources"))
]
MemberEmail = Annotated[Email, AfterValidator(_member_email)]
SessionKey = Annotated[Slug, AfterValidator(_in("sessions", "session", "the file's sessions"))]
Kind = Literal[BLOCK_KINDS]  # type: ignore[valid-type]
Status = Literal[ATTENDANCE]  # type: ignore[valid-type]
Reply = Literal[REPLY_STATUSES]  # type: ignore[valid-type]
ActionStatus = Literal[ACTION_STATUSES]  # type: ignore[valid-type]
ResourceKind = Literal[RESOURCE_KINDS]  # type: ignore[valid-type]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class FacilitatorEntry(_Strict):
    """The facilitator in a learning-set file."""

    name: Line = Field(min_length=1, max_length=limits.NAME)
    email: Annotated[Email, AfterValidator(_facilitator_email)]


class MemberEntry(_Strict):
    """One member in a learning-set file."""

    name: Line = Field(min_length=1, max_length=limits.NAME)
    email: Email
    grade: Line = Field(default="", max_length=limits.GRADE)
    active: bool = True


class BlockEntry(_Strict):
    """One block of a session's agenda, as the facilitator left it."""

    title: Line = Field(min_length=1, max_length=limits.TITLE)
    kind: Kind
    minutes: int = Field(ge=1, le=600)
    notes: Text = Field(default="", max_length=limits.NOTES)
    handout: bool = True


class SessionEntry(_Strict):
    """One item of a learning-set file's `sessions` list."""

    id: Slug | None = None
    start: LocalTime
    template: TemplateId
    title: Line = Field(default="", max_length=limits.TITLE)
    minutes: int | None = Field(default=None, ge=15, le=600)
    venue: Text = Field(default="", max_length=limits.VENUE)
    video_url: Url = ""
    agenda: list[BlockEntry] | None = Field(default=None, max_length=limits.BLOCKS)
    cases: list[CaseId] = Field(default=[], max_length=limits.CASES)
    prompts: list[PromptId] = Field(default=[], max_length=limits.PROMPTS)
    prework: list[ResourceId] = Field(default=[], max_length=limits.RESOURCES)
    reading: list[ResourceId] = Field(default=[], max_length=limits.RESOURCES)
    presenters: list[MemberEmail | None] = Field(default=[], max_length=limits.MEMBERS)
    presenters_from: Literal["hand", "rota"] = "hand"
    status: Literal["scheduled", "cancelled"] = "scheduled"
    cancel_reason: Text = Field(default="", max_length=limits.CANCEL_REASON)
    attendance: dict[MemberEmail, Status] = Field(default={}, max_length=limits.MEMBERS)
    present_anonymously: int = Field(default=0, ge=0, le=limits.MEMBERS)
    rsvp: dict[MemberEmail, Reply] = Field(default={}, max_length=limits.MEMBERS)


class ScheduleEntry(_Strict):
    """A learning-set file's `schedule`: a regular series of sessions."""

    first: LocalTime
    every_weeks: int = Field(ge=1, le=26)
    count: int = Field(ge=1, le=20)
    template: TemplateId


class ActionEntry(_Strict):
    """One action a member committed to, with what came of it."""

    session: SessionKey | None = None
    owner: MemberEmail | None = None
    text: Text = Field(min_length=1, max_length=limits.ACTION)
    due: Line = Field(default="", max_length=limits.DUE)
    support: Text = Field(default="", max_length=limits.SUPPORT)
    status: ActionStatus = "open"
    outcome: Text = Field(default="", max_length=limits.OUTCOME)


class ResourceEntry(_Tagged):
    """A resource a facilitator added to the library, carried so the file imports anywhere."""

    id: BankId  # as long as the library's ids, which come from titles
    title: Line = Field(min_length=1, max_length=limits.RESOURCE_TITLE)
    url: Annotated[str, Field(max_length=limits.RESOURCE_URL), AfterValidator(_url)]
    kind: ResourceKind
    minutes: int = Field(ge=1, le=600)
    description: Line = Field(default="", max_length=limits.DESCRIPTION)


def _clock(value: Any) -> Any:
    """An HH:MM time. YAML reads an unquoted 17:45 as the number 1065 (minutes, base 60; 09:45,
    with its leading zero, stays text), so take that back to "17:45" rather than refuse what a
    person wrote naturally; an unquoted 24:00 becomes "24:00", refused in those words."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return f"{value // 60:02d}:{value % 60:02d}"
    return value


def _check_clock(value: str) -> str:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise ValueError(f"must be a time of day like 09:00, not {value!r}")
    return value


Clock = Annotated[str, BeforeValidator(_clock), AfterValidator(_check_clock)]


class ReminderEntry(_Strict):
    """When the reminder before each session goes."""

    days_before: int = Field(default=2, ge=0, le=14)
    at: Clock = "09:00"


class FollowUpEntry(_Strict):
    """When the follow-up after each session goes."""

    days_after: int = Field(default=1, ge=0, le=14)
    at: Clock = "09:00"


class MessagesEntry(_Strict):
    """A learning-set file's `messages`: the set's automatic e-mails (`false`: off)."""

    reminder: ReminderEntry | Literal[False] = ReminderEntry()
    follow_up: FollowUpEntry | Literal[False] = FollowUpEntry()
    self_assessment: bool = True


class SetHeader(_Strict):
    """The top level of a learning-set file (lists are checked item by item)."""

    id: Slug
    title: Line = Field(min_length=1, max_length=limits.TITLE)
    programme: Annotated[Line, AfterValidator(_programme)] = Field(
        default="", max_length=limits.PROGRAMME
    )
    timezone: Zone = DEFAULT_ZONE
    facilitator: FacilitatorEntry
    venue: Text = Field(default="", max_length=limits.VENUE)
    video_url: Url = ""
    ground_rules: Annotated[list[Rule] | None, AfterValidator(_rules_fit)] = None
    messages: MessagesEntry = MessagesEntry()
    resources: list[Any] = Field(default=[], max_length=MAX_RESOURCES)
    members: list[Any] = Field(default=[], max_length=limits.MEMBERS)
    sessions: list[Any] | None = Field(default=None, max_length=limits.SESSIONS)
    schedule: Any = None
    actions: list[Any] = Field(default=[], max_length=limits.ACTIONS)


@dataclass(frozen=True)
class Person:
    """A named person with an e-mail address (lower-case)."""

    name: str
    email: str
    grade: str = ""
    active: bool = True


@dataclass(frozen=True)
class BlockSpec:
    """One agenda block as the file gives it."""

    title: str
    kind: str
    minutes: int
    notes: str = ""
    handout: bool = True


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
    # member e-mails in round order (None: nobody); None when the file leaves `presenters` out
    presenters: tuple[str | None, ...] | None
    status: str
    agenda: tuple[BlockSpec, ...] | None = None  # None: build it from the template
    presenters_by_hand: bool = True
    cancel_reason: str = ""
    attendance: tuple[tuple[str, str], ...] = ()  # (member e-mail, status)
    present_anonymously: int = 0
    rsvp: tuple[tuple[str, str], ...] = ()  # (member e-mail, attending/apologies/tentative)


@dataclass(frozen=True)
class ActionSpec:
    """One action as the file gives it."""

    session: str | None
    owner: str | None
    text: str
    due: str
    support: str
    status: str
    outcome: str


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
    messages: MessagesEntry
    sessions: tuple[SessionSpec, ...]
    actions: tuple[ActionSpec, ...] = ()
    resources: tuple[ResourceEntry, ...] = ()
