"""iCalendar output for sessions: invites (REQUEST/CANCEL), single downloads and the set feed.

Times carry the set's TZID with a VTIMEZONE in the yearly-RRULE form that Outlook and Google
write themselves; Outlook misplaces events by an hour when the VTIMEZONE lists RDATEs instead.
"""

from __future__ import annotations

import calendar as monthdays
from collections.abc import Iterable
from dataclasses import dataclass
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
)

PRODID = "-//Learning-set toolkit//learning-set-toolkit//EN"
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


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
    cancelled: bool
    reminder_minutes: int


def _address(person: Person, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{person.email}")
    address.params["CN"] = person.name
    address.params.update(params)
    return address


def build_event(session: SessionEvent, attendee: Person | None = None) -> Event:
    """One VEVENT; with `attendee`, that one person only, so nobody sees anyone else's address."""
    zone = ZoneInfo(session.zone)
    event = Event.new(
        uid=session.uid,
        sequence=session.sequence,
        summary=session.summary,
        start=session.start.astimezone(zone),
        end=session.end.astimezone(zone),
        location=session.location or None,
        url=session.video_url or None,
        description=session.description,
        organizer=_address(session.organizer),
        status="CANCELLED" if session.cancelled else "CONFIRMED",
        transparency="OPAQUE",
    )
    if attendee is not None:
        event.add(
            "attendee",
            _address(attendee, ROLE="REQ-PARTICIPANT", PARTSTAT="NEEDS-ACTION", RSVP="TRUE"),
        )
    if session.reminder_minutes and not session.cancelled:
        alarm = Alarm.new(description=f"Reminder: {session.summary}")
        alarm.add("action", "DISPLAY")
        alarm.add("trigger", timedelta(minutes=-session.reminder_minutes))
        event.add_component(alarm)
    return event


def _calendar(
    events: list[Event], sessions: Iterable[SessionEvent], uid: str, method: str | None, **kw
) -> bytes:
    cal = Calendar.new(prodid=PRODID, method=method, uid=uid, **kw)
    sessions = list(sessions)
    for zone in sorted({s.zone for s in sessions}):
        starts = [s.start for s in sessions if s.zone == zone]
        cal.add_component(vtimezone(zone, min(starts).year, max(starts).year))
    for event in events:
        cal.add_component(event)
    return cal.to_ical()


def invite(session: SessionEvent, attendee: Person, method: str) -> bytes:
    """An e-mailed invite: METHOD REQUEST or CANCEL, one VEVENT, one ATTENDEE."""
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"unknown iTIP method {method}")
    event = build_event(session, attendee)
    if method == "CANCEL":
        event["STATUS"] = "CANCELLED"
    return _calendar([event], [session], session.uid, method)


def single(session: SessionEvent) -> bytes:
    """A one-session download for the facilitator's own calendar (METHOD:PUBLISH)."""
    return _calendar([build_event(session)], [session], session.uid, "PUBLISH")


def feed(name: str, uid: str, sessions: list[SessionEvent]) -> bytes:
    """The set's subscribable feed: every session, no METHOD, no attendees."""
    events = [build_event(s) for s in sessions]
    return _calendar(events, sessions, uid, None, name=name)


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


@cache
def vtimezone(name: str, first_year: int, last_year: int) -> Timezone:
    """A VTIMEZONE with one yearly RRULE per kind of change, checked against the zone database.

    Zones without clock changes get a single STANDARD component. If a zone's rules changed within
    the years asked for, a yearly rule would be wrong, so the RDATE form is used instead.
    """
    zone = ZoneInfo(name)
    onsets = _onsets(zone, first_year)
    if not onsets:
        return _fixed(name, zone, first_year)
    if not _rules_hold(zone, onsets, first_year, last_year):
        return Timezone.from_tzinfo(zone, first_date=datetime(first_year, 1, 1).date())
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
