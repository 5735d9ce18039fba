"""What each e-mail says, written once as sections and rendered twice: plain text and HTML.

The HTML is a small accessible document of its own (lang, title, headings, a description list
for when and where, real links) with no stylesheet, image or script to fetch; every piece of
text is escaped, and only http and https addresses become links.
"""

from __future__ import annotations

import html
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from toolkit import sets
from toolkit.calendar import Person
from toolkit.casebank import Resource
from toolkit.mail import Letter
from toolkit.models import Meeting
from toolkit.planning import PlannedBlock
from toolkit.resources import session_resources
from toolkit.text import one_line


@dataclass(frozen=True)
class Link:
    """Text that points somewhere."""

    text: str
    url: str


Run = tuple[str | Link, ...]  # a line of text, some of it links


@dataclass(frozen=True)
class Section:
    """Part of a letter: an optional heading, then paragraphs, label-value facts and a list."""

    heading: str = ""
    paragraphs: tuple[Run, ...] = ()
    facts: tuple[tuple[str, Run], ...] = ()
    items: tuple[Run, ...] = ()


def render(subject: str, title: str, sections: list[Section]) -> Letter:
    """The letter as plain text and as an HTML document headed by `title`."""
    return Letter(subject, _text(sections), _html(subject, title, sections))


def _plain(run: Run) -> str:
    return "".join(p if isinstance(p, str) else _plain_link(p) for p in run)


def _plain_link(link: Link) -> str:
    return link.url if link.text == link.url else f"{link.text} <{link.url}>"


def _text(sections: list[Section]) -> str:
    blocks = []
    for section in sections:
        parts = [_plain(p) for p in section.paragraphs]
        if section.facts:
            parts.append("\n".join(f"{label}: {_plain(value)}" for label, value in section.facts))
        if section.items:
            parts.append("\n".join(f"- {_plain(item)}" for item in section.items))
        if section.heading:
            parts = [f"{section.heading}:" + "".join(f"\n{p}" for p in parts[:1]), *parts[1:]]
        blocks += parts
    return "\n\n".join(blocks) + "\n"


def _html(subject: str, title: str, sections: list[Section]) -> str:
    head = [
        "<!DOCTYPE html>",
        '<html lang="en-GB">',
        '<head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_escape(subject)}</title></head>",
        "<body><main>",
        f"<h1>{_escape(title)}</h1>",
    ]
    body = [line for section in sections for line in _section_html(section)]
    return "\n".join([*head, *body, "</main></body>", "</html>", ""])


def _section_html(section: Section) -> list[str]:
    lines = [f"<h2>{_escape(section.heading)}</h2>"] if section.heading else []
    lines += [f"<p>{_run_html(p)}</p>" for p in section.paragraphs]
    if section.facts:
        lines.append("<dl>")
        lines += [f"<dt>{_escape(k)}</dt><dd>{_run_html(v)}</dd>" for k, v in section.facts]
        lines.append("</dl>")
    if section.items:
        lines += ["<ul>", *(f"<li>{_run_html(item)}</li>" for item in section.items), "</ul>"]
    return lines


def _escape(text: str) -> str:
    return html.escape(text).replace("\n", "<br>\n")


def _run_html(run: Run) -> str:
    return "".join(_escape(p) if isinstance(p, str) else _link_html(p) for p in run)


def _link_html(link: Link) -> str:
    if not link.url.lower().startswith(("https://", "http://")):
        return _escape(_plain_link(link))  # never a javascript: or data: link
    return f'<a href="{html.escape(link.url)}">{_escape(link.text)}</a>'


TITLES = {"dr", "mr", "mrs", "ms", "miss", "mx", "prof", "professor", "sir", "dame"}


def greeting(name: str) -> str:
    """ "Dear Zoë," (by first name, or in full after a title such as Dr), never with doubled
    punctuation; "Hello," when the name leaves nothing to call someone by."""
    words = one_line(name).split()
    full = bool(words) and words[0].lower().rstrip(".") in TITLES
    called = _trim(" ".join(words) if full else words[0] if words else "")
    return f"Dear {called}," if called else "Hello,"


def _trim(text: str) -> str:
    """The text without punctuation or spaces at either end."""
    start, end = 0, len(text)
    while start < end and _loose(text[start]):
        start += 1
    while end > start and _loose(text[end - 1]):
        end -= 1
    return text[start:end]


def _loose(char: str) -> bool:
    return char.isspace() or unicodedata.category(char).startswith("P")


PREFIX = {
    "new": "Invitation",
    "resent": "Invitation",
    "updated": "Updated",
    "restored": "Back on",
    "cancelled": "Cancelled",
    "removed": "Cancelled",
    "deleted": "Cancelled",
}
WITHDRAWN = ("cancelled", "removed", "deleted")  # the letter takes the session away


@dataclass(frozen=True)
class Invite:
    """One invite letter's facts: the session, to whom, why it is sent, and since when the
    member has known the session as it was (their last delivered message), if ever."""

    meeting: Meeting
    member_name: str
    reason: str  # new, resent, updated, restored, cancelled, removed, deleted
    facilitator: Person
    since: datetime | None = None
    replies: Section | None = None  # "I can come" / "I can't come", to the member's page


def invite_letter(invite: Invite, library: dict[str, Resource] | None = None) -> Letter:
    """Subject, text and HTML of an invite, update or cancellation; they repeat the calendar's
    facts, because Outlook shows the body rather than the event's description."""
    meeting, reason = invite.meeting, invite.reason
    subject = f"{PREFIX[reason]}: {session_label(meeting)}, {sets.describe_when(meeting)}"
    opening = Section(paragraphs=((greeting(invite.member_name),), (_opening(invite),)))
    if reason in WITHDRAWN:
        sections = [opening, *_why(meeting, reason)]
    else:
        sections = [opening, *_changes(invite), when_where(meeting)]
        sections += [invite.replies] if invite.replies else []
        sections += prework_sections(meeting, library or {}) + [_agenda(meeting)]
    facilitator = one_line(invite.facilitator.name) or "Your facilitator"
    sign_off = f"{facilitator} facilitates this set: reply to this e-mail to reach them."
    sections.append(Section(paragraphs=((sign_off,),)))
    return render(subject, f"{PREFIX[reason]}: {session_label(meeting)}", sections)


def session_label(meeting: Meeting) -> str:
    """ "Set A, session 2 of 6: Giving feedback"."""
    return f"{meeting.learning_set.title}, {n_of_m(meeting)}: {meeting.title}"


def n_of_m(meeting: Meeting) -> str:
    """ "session 2 of 6", counting the sessions that will happen (a cancelled one counts, as when
    the member was invited)."""
    return sets.describe_n_of_m(meeting).lower()


def _opening(invite: Invite) -> str:
    meeting = invite.meeting
    which = f"{n_of_m(meeting)} in {meeting.learning_set.title}, “{meeting.title}”"
    which_on = f"{which}, on {sets.describe_when(meeting)},"
    return {
        "new": f"You are invited to {which}.",
        "resent": f"Here is your invitation to {which} again.",
        "updated": f"{_cap(which)} has changed. This replaces your earlier invitation.",
        "restored": f"{_cap(which)} is going ahead after all. This replaces the cancellation.",
        "cancelled": f"{_cap(which_on)} has been cancelled. Your calendar entry will be removed.",
        "removed": f"You are no longer a member of {meeting.learning_set.title}, so {which_on} "
        "has been taken out of your calendar.",
        "deleted": f"{_cap(which_on)} has been taken off the programme. "
        "Your calendar entry will be removed.",
    }[invite.reason]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _why(meeting: Meeting, reason: str) -> list[Section]:
    """The facilitator's reason for cancelling, in their own words."""
    said = meeting.cancel_reason.strip() if reason == "cancelled" else ""
    if not said:
        return []
    paragraphs = tuple((p.strip(),) for p in said.replace("\r\n", "\n").split("\n\n") if p.strip())
    return [Section(heading="Why", paragraphs=paragraphs)]


def when_where(meeting: Meeting) -> Section:
    learning_set = meeting.learning_set
    facts: list[tuple[str, Run]] = [
        ("When", (f"{sets.describe_when(meeting)} ({learning_set.time_zone} time)",))
    ]
    venue = meeting.venue or learning_set.venue
    video = meeting.video_url or learning_set.video_url
    if venue:
        facts.append(("Where", (venue,)))
    if video:
        facts.append(("Video link", (Link(video, video),)))
    return Section(heading="When and where", facts=tuple(facts))


def prework_sections(meeting: Meeting, library: dict[str, Resource]) -> list[Section]:
    prework = session_resources(meeting, library, "prework")
    if not prework:
        return []
    total = sum(r.minutes for r in prework)
    items = tuple((Link(r.title, r.url), f" ({r.kind}, {r.minutes} min)") for r in prework)
    return [Section(heading=f"Pre-work (about {total} min in all)", items=items)]


def _agenda(meeting: Meeting) -> Section:
    timed = [t for t in sets.agenda(meeting) if t.block.handout]
    return Section(
        heading="Agenda", items=tuple((f"{t.start:%H:%M} {outline(t.block)}",) for t in timed)
    )


def outline(block: PlannedBlock) -> str:
    """A block's title for calendars and e-mail: a case block never names its case."""
    return "Case discussion" if block.kind == "case" else block.title


@dataclass(frozen=True)
class Change:
    """One fact of a session as the member knew it, and as it is now."""

    what: str
    was: str
    now: str


def changes_since(meeting: Meeting, since: datetime | None) -> list[Change]:
    """What changed about the date, time, place and video link after `since`, as was -> now
    (a value changed and changed back is no change)."""
    before: dict[str, str] = {}
    for row in meeting.changes:
        if since is not None and row.changed_at > since:
            before.setdefault(row.field, row.old)
    learning_set = meeting.learning_set
    start = _instant(before["start"]) if "start" in before else meeting.starts_at
    minutes = int(before.get("minutes", meeting.minutes))
    was = _facts(learning_set.time_zone, start, minutes)
    now = _facts(learning_set.time_zone, meeting.starts_at, meeting.minutes)
    was["Place"] = before.get("venue", meeting.venue) or learning_set.venue
    now["Place"] = meeting.venue or learning_set.venue
    was["Video link"] = before.get("video_url", meeting.video_url) or learning_set.video_url
    now["Video link"] = meeting.video_url or learning_set.video_url
    return [Change(what, was[what], now[what]) for what in now if was[what] != now[what]]


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _facts(zone: str, start: datetime, minutes: int) -> dict[str, str]:
    begin = start.astimezone(ZoneInfo(zone))
    end = (start + timedelta(minutes=minutes)).astimezone(ZoneInfo(zone))
    return {
        "Date": f"{begin:%a} {begin.day} {begin:%b %Y}",
        "Time": f"{begin:%H:%M} to {end:%H:%M}",
    }


def _changes(invite: Invite) -> list[Section]:
    if invite.reason not in ("updated", "restored"):
        return []
    changes = changes_since(invite.meeting, invite.since)
    if not changes:
        if invite.reason == "restored":
            return []
        same = "The date, time and place are as before; this brings your calendar up to date."
        return [Section(paragraphs=((same,),))]
    items = tuple(_change_run(c) for c in changes)
    return [Section(heading="What has changed", items=items)]


def _change_run(change: Change) -> Run:
    def shown(value: str) -> str | Link:
        if not value:
            return "none"
        return Link(value, value) if change.what == "Video link" else value

    return (f"{change.what}: was ", shown(change.was), ", now ", shown(change.now))


def reset_letter(name: str, url: str, lifetime: timedelta, sent_by: str = "") -> Letter:
    """The e-mail with a link to set a new password: who asked, how long it works, and what to
    do if nobody meant to ask."""
    hours = round(lifetime.total_seconds() / 3600, 1)
    within = f"{hours:g} hour{'s' if hours != 1 else ''}"
    asked = f"{one_line(sent_by)} has asked" if sent_by.strip() else "Someone (we hope you) asked"
    paragraphs = [
        greeting(name),
        f"{asked} for a link to set a new password for your Learning-set toolkit account.",
        "Open this link to choose one:",
        Link(url, url),
        f"The link works once, within {within}. Setting a new password signs you out on "
        "every other device.",
        "If you did not expect this, ignore it: your password stays as it is.",
    ]
    subject = "Set a new password for the Learning-set toolkit"
    return render(subject, subject, [Section(paragraphs=tuple((p,) for p in paragraphs))])
