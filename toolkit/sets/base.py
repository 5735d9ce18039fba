"""Sets themselves and what every part of the service shares: errors, limits, order and time."""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from toolkit import limits
from toolkit.models import (
    LearningSet,
    Meeting,
    MeetingCase,
    MeetingChange,
    MeetingPrompt,
    MeetingResource,
    Member,
    Programme,
    ProgrammeLead,
    SetFacilitator,
    User,
)
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
    """Admins see every set; facilitators their own; programme leads every set of the
    programmes they lead."""
    return can_change(user, learning_set) or leads(user, learning_set)


def can_change(user: User, learning_set: LearningSet) -> bool:
    """Admins change every set and facilitators their own; a programme lead only reads."""
    return user.is_admin or facilitates(user, learning_set)


def leads(user: User, learning_set: LearningSet) -> bool:
    """Whether the user leads the programme the set belongs to."""
    programme = learning_set.programme
    return programme is not None and any(lead.id == user.id for lead in programme.leads)


def is_demo(learning_set: LearningSet) -> bool:
    """A set no facilitator can sign in to (the demo content, or a set imported for someone
    who has no password yet): it belongs to no real facilitator."""
    return not any(f.password_hash for f in learning_set.facilitators)


def facilitates(user: User, learning_set: LearningSet) -> bool:
    """Whether the user is one of the set's own facilitators (an admin sees more sets)."""
    return any(f.id == user.id for f in learning_set.facilitators)


def sets_for(db: Session, user: User) -> list[LearningSet]:
    """The sets a user may see, by title."""
    query = select(LearningSet).order_by(LearningSet.title)
    if not user.is_admin:
        own = select(SetFacilitator.set_id).where(SetFacilitator.user_id == user.id)
        led = select(LearningSet.id).join(
            ProgrammeLead, ProgrammeLead.programme_id == LearningSet.programme_id
        )
        led = led.where(ProgrammeLead.user_id == user.id)
        query = query.where(LearningSet.id.in_(own) | LearningSet.id.in_(led))
    return list(db.scalars(query))


def find_programme(db: Session, programme_id: str) -> Programme | None:
    """The programme with this id ("" for none); SetError naming the id when there is none."""
    if not programme_id:
        return None
    found = db.get(Programme, programme_id)
    if found is None:
        shown = one_line(programme_id)[: limits.SLUG]
        raise SetError(f"there is no programme with the id '{shown}'")
    return found


def slug_for(title: str) -> str:
    """A short id made from a title, as the create form's script makes it: "Thames Valley FY
    set B" becomes "thames-valley-fy-set-b" (accents dropped, at most `limits.SLUG` long)."""
    bare = "".join(c for c in unicodedata.normalize("NFKD", title) if not unicodedata.combining(c))
    slug = re.sub(r"[^a-z0-9]+", "-", bare.lower()).strip("-")
    return slug[: limits.SLUG].rstrip("-") or "learning-set"


def free_slug(db: Session, title: str, column=LearningSet.slug) -> str:
    """`slug_for(title)`, with -2, -3… added when a row already has that id in `column` (a
    set's slug by default; a programme's id)."""
    base = slug_for(title)
    cut = base[: limits.SLUG - 12]  # a numbered id may cut the end of a long base
    taken = set(db.scalars(select(column).where(column.startswith(cut))))
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base[: limits.SLUG - len(str(n)) - 1].rstrip('-')}-{n}"
    return slug


def create_set(
    db: Session, owner: User, slug: str, title: str, time_zone: str = "Europe/London", **fields: str
) -> LearningSet:
    """Create a set facilitated by `owner`, with the default ground rules; with no `slug`, its
    short id is made from the title."""
    slug = slug or free_slug(db, title)
    if db.scalar(select(LearningSet).where(LearningSet.slug == slug)):
        raise SetError(f"A set with the short id '{slug}' already exists. Choose another short id.")
    learning_set = LearningSet(
        slug=slug,
        ground_rules="\n".join(DEFAULT_GROUND_RULES),
        feed_token=secrets.token_urlsafe(24),
    )
    db.add(learning_set)
    with db.no_autoflush:  # nothing is written before every field is set
        learning_set.facilitators.append(owner)
        change_set(db, learning_set, title, time_zone=time_zone, **fields)
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
    learning_set.programme = find_programme(db, programme)
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


def check_room(have: int, cap: int, what: str) -> None:
    """Refuse one more of something a set or session already holds its cap of."""
    if have >= cap:
        raise SetError(f"A learning set can have at most {cap} {what}; nothing was added.")


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


def session_of(meeting: Meeting) -> tuple[int, int]:
    """(N, M) for "session N of M", counting only the sessions that will happen: a cancelled or
    deleted session is counted as if it were still on, so its cancellation reads as it was."""
    held = [m for m in meetings_in_order(meeting.learning_set) if m.status != "cancelled"]
    earlier = sum(1 for m in held if m.starts_at < meeting.starts_at and m is not meeting)
    counted = meeting.status != "cancelled" and meeting.deleted_at is None
    return earlier + 1, len(held) + (0 if counted else 1)


def describe_n_of_m(meeting: Meeting) -> str:
    """ "Session 2 of 5", counting only the sessions that will happen (see `session_of`)."""
    number, count = session_of(meeting)
    return f"Session {number} of {count}"


def local(meeting: Meeting, when: datetime | None = None) -> datetime:
    """A time (default: the meeting's start) in the set's time zone."""
    return (when or meeting.starts_at).astimezone(ZoneInfo(meeting.learning_set.time_zone))


def end_time(meeting: Meeting) -> datetime:
    """When the meeting's slot ends."""
    return meeting.starts_at + timedelta(minutes=meeting.minutes)


def next_position(rows: Sequence[MeetingCase | MeetingPrompt | MeetingResource]) -> int:
    """A place after every row already there (a count would repeat one after a removal)."""
    return max((row.position for row in rows), default=-1) + 1


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


def describe_start(meeting: Meeting) -> str:
    """The meeting's local date and start time, e.g. "Thu 14 Jan 2027, 14:00"."""
    start = local(meeting)
    return f"{start:%a} {start.day} {start:%b %Y}, {start:%H:%M}"


def describe_moment(learning_set: LearningSet, when: datetime) -> str:
    """A moment (kept in UTC) on the set's clock, e.g. "Thu 14 Jan 2027, 09:05"; pages name the
    zone beside it (`learning_set.time_zone`)."""
    there = when.astimezone(ZoneInfo(learning_set.time_zone))
    return f"{there:%a} {there.day} {there:%b %Y}, {there:%H:%M}"


CHANGED = {"start": "Start", "minutes": "Length", "venue": "Venue", "video_url": "Video link"}


def describe_change(meeting: Meeting, change: MeetingChange) -> str:
    """A change to a session in words, its times on the set's clock: "Start moved from Thu 14
    Jan 2027, 14:00 to Thu 21 Jan 2027, 15:00"."""
    old, new = change.old or "none", change.new or "none"
    if change.field == "start":
        learning_set = meeting.learning_set
        old, new = (describe_moment(learning_set, datetime.fromisoformat(v)) for v in (old, new))
        return f"Start moved from {old} to {new}"
    if change.field == "minutes":
        return f"Length changed from {old} to {new} minutes"
    if change.field == "status":
        return f"Status changed from {old} to {new}"
    return f"{CHANGED.get(change.field, change.field)} changed from “{old}” to “{new}”"


def describe_when(meeting: Meeting) -> str:
    """The meeting's date and local clock times, e.g. "Thu 14 Jan 2027, 14:00 to 17:15"."""
    return f"{describe_start(meeting)} to {local(meeting, end_time(meeting)):%H:%M}"


class Conflict(SetError):
    """Someone else saved a change since this form was opened."""


def check_version(row: LearningSet | Meeting | Programme, seen: str | int | None) -> None:
    """Refuse a save made from an out-of-date form (optimistic locking); a request that carries
    no version at all (a script, not one of our pages) is not checked."""
    if seen not in (None, "") and str(seen) != str(row.version):
        what = {Meeting: "session", Programme: "programme"}.get(type(row), "set")
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


def set_ground_rules(db: Session, learning_set: LearningSet, text: str) -> None:
    """Replace the set's ground rules: one per line, blank lines dropped."""
    rules = [one_line(rule) for rule in (text or "").splitlines() if one_line(rule)]
    learning_set.ground_rules = text_field("\n".join(rules), limits.GROUND_RULES, "ground rules")
    touch(learning_set)
    db.flush()


def delete_set(db: Session, learning_set: LearningSet) -> None:
    """Delete a set with its members, sessions, attendance, actions and send log.

    One DELETE: the database's ON DELETE CASCADE reaches every table, in the right order.
    """
    db.execute(delete(LearningSet).where(LearningSet.id == learning_set.id))
    db.expire_all()
