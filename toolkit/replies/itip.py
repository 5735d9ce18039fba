"""Reading calendars' iTIP replies (RFC 5546) out of e-mails (RFC 6047), .ics files and mboxes.

Pure reading: nothing here knows our sessions or members; `toolkit.replies.matching` decides
what a reply means for them. A file gives one `Found` per reply in it, or one saying why none
could be read.
"""

from __future__ import annotations

import mailbox
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.message import Message
from email.policy import default
from pathlib import Path

from icalendar import Calendar, Event

from toolkit.text import one_line

MAX_MESSAGE = 10 * 1024 * 1024  # bytes in one e-mail or .ics; a calendar reply is a few KB
MAX_MESSAGES = 5000  # in one mbox
CALENDAR_TYPES = ("text/calendar", "application/ics", "text/x-vcalendar")
TOO_LARGE = f"larger than {MAX_MESSAGE // 2**20} MB: not a reply"


@dataclass(frozen=True)
class CalendarReply:
    """What one VEVENT of an iTIP message says: who answered what, to which event and version."""

    method: str  # REPLY for an answer; anything else is refused
    uid: str
    attendees: tuple[str, ...]  # addresses, without `mailto:`, lower-cased
    partstat: str  # ACCEPTED, DECLINED, TENTATIVE (or another, refused)
    sequence: int
    comment: str  # COMMENT, or Google's X-RESPONSE-COMMENT on the ATTENDEE
    stamp: datetime | None  # DTSTAMP: when the answer was given


@dataclass(frozen=True)
class Found:
    """One reply found in a file (`label` names the file, and the message in an mbox), or
    `problem`: why nothing could be read there."""

    label: str
    reply: CalendarReply | None = None
    problem: str = ""


def read_path(path: Path) -> list[Found]:
    """Every reply in an .eml, .ics or mbox file (told apart by their content, not their name)."""
    label = str(path)
    try:
        if _is_mbox_file(path):
            return _read_mbox(path, label)
        if path.stat().st_size > MAX_MESSAGE:
            return [Found(label, problem=TOO_LARGE)]
        return read_bytes(label, path.read_bytes())
    except OSError as exc:
        return [Found(label, problem=f"cannot read it ({exc.strerror or exc})")]


def read_upload(name: str, data: bytes) -> list[Found]:
    """Every reply in an uploaded file; an mbox goes through a private temporary file."""
    if not data.startswith(b"From "):
        return read_bytes(name, data)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload.mbox"
        path.write_bytes(data)
        return _read_mbox(path, name)


def read_bytes(label: str, data: bytes) -> list[Found]:
    """Every reply in one e-mail or one iCalendar file."""
    if len(data) > MAX_MESSAGE:
        return [Found(label, problem=TOO_LARGE)]
    if data.lstrip()[:15].upper() == b"BEGIN:VCALENDAR":
        return _from_calendars(label, [data])
    return read_message(label, message_from_bytes(data, policy=default))


def read_message(label: str, message: Message) -> list[Found]:
    """Every reply in an e-mail: its text/calendar parts and .ics attachments, at any depth
    (a forwarded message's too); the same reply inline and attached counts once."""
    payloads = list(_calendar_payloads(message))
    if not payloads:
        return [Found(label, problem="no calendar in it (no text/calendar part or .ics file)")]
    return _from_calendars(label, payloads)


def _is_mbox_file(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(5) == b"From "


def _read_mbox(path: Path, label: str) -> list[Found]:
    box = mailbox.mbox(path, create=False)
    found: list[Found] = []
    try:
        for number, message in enumerate(box, start=1):
            if number > MAX_MESSAGES:
                found.append(Found(label, problem=f"more than {MAX_MESSAGES} messages: split it"))
                break
            data = message.as_bytes()
            found += read_bytes(f"{label}, message {number}", data)
    finally:
        box.close()
    return found or [Found(label, problem="no messages in it")]


def _calendar_payloads(message: Message) -> Iterator[bytes]:
    for part in message.walk():
        if part.is_multipart():
            continue
        name = (part.get_filename() or "").lower()
        if part.get_content_type() in CALENDAR_TYPES or name.endswith((".ics", ".ical")):
            payload = part.get_payload(decode=True)
            if payload:
                yield payload


def _from_calendars(label: str, payloads: list[bytes]) -> list[Found]:
    replies: list[CalendarReply] = []
    problems: list[str] = []
    for payload in payloads:
        try:
            found = _replies(payload)
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            problems.append(f"not a calendar that can be read ({one_line(str(exc))[:120]})")
            continue
        replies += [r for r in found if r not in replies]
    if not replies:
        return [Found(label, problem=problems[0] if problems else "no event in its calendar")]
    if len(replies) == 1:
        return [Found(label, replies[0])]
    return [Found(f"{label}, reply {n}", r) for n, r in enumerate(replies, start=1)]


def _replies(payload: bytes) -> list[CalendarReply]:
    calendar = Calendar.from_ical(payload)
    method = one_line(str(calendar.get("METHOD", ""))).upper()
    return [_reply(method, event) for event in calendar.walk("VEVENT")]


def _reply(method: str, event: Event) -> CalendarReply:
    attendees = event.get("ATTENDEE", [])
    attendees = attendees if isinstance(attendees, list) else [attendees]
    first = attendees[0] if attendees else None
    params = first.params if first is not None else {}
    comment = event.get("COMMENT", "")
    comments = comment if isinstance(comment, list) else [comment]
    note = "\n".join(str(c) for c in comments if str(c).strip())
    return CalendarReply(
        method=method,
        uid=one_line(str(event.get("UID", ""))),
        attendees=tuple(address(str(a)) for a in attendees),
        partstat=one_line(str(params.get("PARTSTAT", "NEEDS-ACTION"))).upper(),
        sequence=int(event.get("SEQUENCE", 0)),
        comment=note or str(params.get("X-RESPONSE-COMMENT", "")),
        stamp=_stamp(event),
    )


def address(value: str) -> str:
    """An ATTENDEE's e-mail address: `mailto:` (in any case) taken off, lower-cased."""
    value = one_line(value)
    if value.lower().startswith("mailto:"):
        value = value[len("mailto:") :]
    return value.strip().lower()


def _stamp(event: Event) -> datetime | None:
    try:
        stamp = event.decoded("DTSTAMP")
    except (KeyError, ValueError):
        return None
    return stamp if isinstance(stamp, datetime) and stamp.tzinfo else None
