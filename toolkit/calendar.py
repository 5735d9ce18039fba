"""iCalendar output for sessions: invites (REQUEST/CANCEL), single downloads and the set feed.

Times carry the set's TZID with a VTIMEZONE in the yearly-RRULE form that Outlook and Google
write themselves; Outlook misplaces events by an hour when the VTIMEZONE lists RDATEs instead.
"""

from __future__ import annotations

import calendar as monthdays
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from icalendar import (
    Alarm,
    Calendar,
    Event,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vCalAddress,
    vDuration,
    vText,
)

from toolkit.text import one_line

PRODID = "-//Learning-set toolkit//learning-set-toolkit//EN"
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# how often a subscribed calendar should fetch the feed again (REFRESH-INTERVAL, X-PUBLISHED-TTL)
FEED_REFRESH = timedelta(hours=1)


@dataclass(frozen=True)
class Person:
    """A name and e-mail address, as used for ORGANIZER and ATTENDEE."""

    name: str
    email: str


@dataclass(frozen=True)
class SessionEvent:
    """Everything a calendar needs about one session (no personal data but the organiser)."""

    uid: str
    sequence: int
    summary: str
    start: datetime
    end: datetime
    zone: str
    location: str
    video_url: str
    description: str
    organizer: Person
    sent_by: str  # the toolkit's own address, which sends every invite for the organiser
    cancelled: bool
    reminder_minutes: int
    changed: datetime  # its last real change: the feed's DTSTAMP and LAST-MODIFIED


def _address(person: Person, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{one_line(person.email)}")
    address.params["CN"] = one_line(person.name)
    address.params.update(params)
    return address


def _sending_organizer(session: SessionEvent) -> vCalAddress:
    """The facilitator, sent for by the toolkit's address that the e-mail comes from: a client
    that accepts updates and cancellations only from the organiser accepts SENT-BY's too."""
    return _address(session.organizer, **{"SENT-BY": f"mailto:{session.sent_by}"})


def _published_organizer(session: SessionEvent) -> vCalAddress:
    """The facilitator's name at the toolkit's own address, for the feed (see `feed`)."""
    return _address(Person(session.organizer.name, session.sent_by))


def _place(venue: str) -> str | None:
    """LOCATION on one line: a venue's address lines joined by commas."""
    parts = [one_line(part) for part in venue.splitlines()]
    return ", ".join(part for part in parts if part) or None


def _stamp(moment: datetime) -> datetime:
    """A UTC DATE-TIME to the second, as iCalendar and HTTP dates carry it."""
    return moment.astimezone(UTC).replace(microsecond=0)


def build_event(
    session: SessionEvent, organizer: vCalAddress, changed: datetime | None = None
) -> Event:
    """One VEVENT with no attendee; with `changed`, that is its DTSTAMP and LAST-MODIFIED
    (else DTSTAMP is now, as an iTIP message wants)."""
    zone = ZoneInfo(session.zone)
    summary = one_line(session.summary)
    event = Event.new(
        uid=session.uid,
        sequence=session.sequence,
        summary=summary,
        start=session.start.astimezone(zone),
        end=session.end.astimezone(zone),
        location=_place(session.location),
        url=one_line(session.video_url) or None,
        # U+2028 and the like become escaped \n too: left raw, a reader that splits lines the
        # Unicode way would break the content line
        description="\n".join(session.description.splitlines()),
        organizer=organizer,
        status="CANCELLED" if session.cancelled else "CONFIRMED",
        transparency="OPAQUE",
        stamp=_stamp(changed) if changed else None,
        last_modified=_stamp(changed) if changed else None,
    )
    if session.reminder_minutes and not session.cancelled:
        alarm = Alarm.new(description=f"Reminder: {summary}")
        alarm.add("action", "DISPLAY")
        alarm.add("trigger", timedelta(minutes=-session.reminder_minutes))
        event.add_component(alarm)
    return event


def _calendar(events: list[Event], sessions: list[SessionEvent], method: str | None) -> Calendar:
    """The events with a VTIMEZONE per zone, and no calendar-level UID: RFC 5546 lists none for
    an iTIP message, and `Calendar.new` adds a random one that would differ on every call."""
    cal = Calendar.new(prodid=PRODID, method=method)
    del cal["UID"]
    for zone in sorted({s.zone for s in sessions}):
        starts = [s.start for s in sessions if s.zone == zone]
        cal.add_component(vtimezone(zone, min(starts).year, max(starts).year))
    for event in events:
        cal.add_component(event)
    return cal


def invite(session: SessionEvent, attendee: Person, method: str) -> bytes:
    """An e-mailed invite: METHOD REQUEST or CANCEL, one VEVENT, one ATTENDEE.

    DTSTAMP is the moment the message is made, as RFC 5546 has it for iTIP: a client ranks two
    messages of the same SEQUENCE by it, so a resent invite must never look older than the last.
    A cancellation asks no reply (RSVP=FALSE).
    """
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"unknown iTIP method {method}")
    if method == "CANCEL":
        session = replace(session, cancelled=True)
    event = build_event(session, _sending_organizer(session))
    rsvp = "TRUE" if method == "REQUEST" else "FALSE"
    params = {"ROLE": "REQ-PARTICIPANT", "PARTSTAT": "NEEDS-ACTION", "RSVP": rsvp}
    event.add("attendee", _address(attendee, **params))
    return _calendar([event], [session], method).to_ical()


def single(session: SessionEvent) -> bytes:
    """A one-session download for the facilitator's own calendar (METHOD:PUBLISH)."""
    event = build_event(session, _address(session.organizer))
    return _calendar([event], [session], "PUBLISH").to_ical()


def feed(name: str, uid: str, sessions: list[SessionEvent]) -> bytes:
    """The set's subscribable feed: every session, no METHOD, no attendees, and the same bytes
    on every poll until a session really changes.

    ORGANIZER keeps the facilitator's name but takes the toolkit's address: the feed is
    published to anyone holding its link, so it names no one's own address. Omitting ORGANIZER
    (which RFC 5545 allows outside scheduling) would lose the name that Apple, Google and
    Outlook show as "organiser"; with no ATTENDEE, no client offers a reply to it.
    """
    events = [build_event(s, _published_organizer(s), s.changed) for s in sessions]
    cal = _calendar(events, sessions, None)
    cal.add("uid", uid)
    # icalendar 7.3 does not know NAME's type and writes it (and X-WR-CALNAME) unescaped, so a
    # comma cuts the name short in vobject and a line break makes to_ical fail: give TEXT. And
    # say so (VALUE=TEXT): ical.js knows neither property and would show the escapes otherwise.
    cal.add("name", vText(one_line(name)), parameters={"VALUE": "TEXT"})
    cal.add("x-wr-calname", vText(one_line(name)), parameters={"VALUE": "TEXT"})
    cal.add("refresh-interval", FEED_REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", vDuration(FEED_REFRESH))
    return cal.to_ical()


@dataclass(frozen=True)
class _Onset:
    month: int
    byday: str
    local: datetime  # wall-clock time of the change, in the offset before it
    before: timedelta
    after: timedelta
    name: str
    daylight: bool


def _transitions(zone: ZoneInfo, year: int) -> list[tuple[datetime, timedelta, timedelta]]:
    """Every UTC instant in `year` when the zone's offset changes, with offsets before and after."""
    step = timedelta(minutes=15)
    moment = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    found, previous = [], moment.astimezone(zone).utcoffset()
    while moment < end:
        moment += step
        offset = moment.astimezone(zone).utcoffset()
        if offset != previous:
            found.append((moment, previous, offset))
            previous = offset
    return found


def _byday(day: datetime) -> str:
    last = day.day + 7 > monthdays.monthrange(day.year, day.month)[1]
    nth = -1 if last else (day.day - 1) // 7 + 1
    return f"{nth}{WEEKDAYS[day.weekday()]}"


def _onsets(zone: ZoneInfo, year: int) -> list[_Onset]:
    onsets = []
    for moment, before, after in _transitions(zone, year):
        local = (moment + before).replace(tzinfo=None)
        later = moment.astimezone(zone)
        onsets.append(
            _Onset(
                local.month,
                _byday(local),
                local,
                before,
                after,
                later.tzname() or "",
                bool(later.dst()),
            )
        )
    return onsets


def _rule_date(year: int, month: int, byday: str) -> int:
    """The day of the month that BYMONTH/BYDAY picks in `year`."""
    nth, weekday = int(byday[:-2]), WEEKDAYS.index(byday[-2:])
    days = [
        d
        for d in range(1, monthdays.monthrange(year, month)[1] + 1)
        if datetime(year, month, d).weekday() == weekday
    ]
    return days[nth - 1] if nth > 0 else days[nth]


def _rules_hold(zone: ZoneInfo, onsets: list[_Onset], first: int, last: int) -> bool:
    for year in range(first, last + 1):
        actual = [(o.month, o.local.day, o.local.time()) for o in _onsets(zone, year)]
        predicted = [(o.month, _rule_date(year, o.month, o.byday), o.local.time()) for o in onsets]
        if actual != predicted:
            return False
    return True


def _cycles(zone: ZoneInfo, onsets: list[_Onset], year: int) -> bool:
    """True when the year's changes bring the clocks back to the offset it began with: else a
    yearly rule would give the time before the first change the offset after the last one
    (as for Moscow, +4 to +3 for good in 2014)."""
    begins = datetime(year, 1, 1, tzinfo=UTC).astimezone(zone).utcoffset()
    return not onsets or onsets[-1].after == begins


@cache
def vtimezone(name: str, first_year: int, last_year: int) -> Timezone:
    """A VTIMEZONE with one yearly RRULE per kind of change, checked against the zone database.

    Zones without clock changes in any of the years get a single STANDARD component. If a zone's
    rules changed within the years asked for, or its offset changed for good, a yearly rule (or
    a fixed offset) would be wrong, so the RDATE form is used instead.
    """
    zone = ZoneInfo(name)
    onsets = _onsets(zone, first_year)
    if not _cycles(zone, onsets, first_year) or not _rules_hold(
        zone, onsets, first_year, last_year
    ):
        return Timezone.from_tzinfo(zone, first_date=datetime(first_year, 1, 1).date())
    if not onsets:
        return _fixed(name, zone, first_year)
    timezone = Timezone()
    timezone.add("tzid", name)
    for onset in sorted(onsets, key=lambda o: o.daylight):
        part = TimezoneDaylight() if onset.daylight else TimezoneStandard()
        start_day = _rule_date(1970, onset.month, onset.byday)
        part.add("dtstart", onset.local.replace(year=1970, day=start_day))
        part.add("rrule", {"FREQ": "YEARLY", "BYMONTH": onset.month, "BYDAY": onset.byday})
        part.add("tzoffsetfrom", onset.before)
        part.add("tzoffsetto", onset.after)
        part.add("tzname", onset.name)
        timezone.add_component(part)
    return timezone


def _fixed(name: str, zone: ZoneInfo, year: int) -> Timezone:
    moment = datetime(year, 1, 1, tzinfo=UTC).astimezone(zone)
    timezone = Timezone()
    timezone.add("tzid", name)
    part = TimezoneStandard()
    part.add("dtstart", datetime(1970, 1, 1))
    part.add("tzoffsetfrom", moment.utcoffset())
    part.add("tzoffsetto", moment.utcoffset())
    part.add("tzname", moment.tzname() or name)
    timezone.add_component(part)
    return timezone
