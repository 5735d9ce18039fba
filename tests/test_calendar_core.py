"""The calendar core on its own: every property of an invite, and VTIMEZONEs that a reader that
knows no zone by name (as Outlook) turns into the right instant all year, in every kind of zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from toolkit import calendar
from toolkit.calendar import Person, SessionEvent

from .vtimezone_reader import _unfold, event_starts_utc, to_utc, vtimezones

FACILITATOR = Person("Dr Siobhán O'Neil", "fac@example.org")
MEMBER = Person("Zoë Marsh", "zoe@example.nhs.uk")
SENDER = "learning-sets@kss.example.nhs.uk"
CHANGED = datetime(2027, 1, 5, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_vtimezones():
    """Build every VTIMEZONE anew: `vtimezone` is cached, and a test must see the code it runs."""
    calendar.vtimezone.cache_clear()
    yield
    calendar.vtimezone.cache_clear()


def session(**changes) -> SessionEvent:
    """Session 2 of Set A: Thu 28 Oct 2027, 14:00 to 17:15 London (BST, three days before the
    autumn change), at a venue of two lines, with a video link and a two-line description."""
    zone = ZoneInfo(changes.pop("zone", "Europe/London"))
    start = changes.pop("start", datetime(2027, 10, 28, 14, 0))
    minutes = changes.pop("minutes", 195)
    values = dict(
        uid="session-abc@toolkit.example",
        sequence=2,
        summary="Set A: session 2, Action learning",
        start=start.replace(tzinfo=zone).astimezone(UTC),
        end=(start + timedelta(minutes=minutes)).replace(tzinfo=zone).astimezone(UTC),
        zone=zone.key,
        location="Seminar Room 2\nEducation Centre, Kent",
        video_url="https://teams.example/meet/set-a",
        description="Set A, session 2\nAgenda:\u202814:00 Check-in",
        organizer=FACILITATOR,
        sent_by=SENDER,
        cancelled=False,
        reminder_minutes=90,
        changed=CHANGED,
    )
    values.update(changes)
    return SessionEvent(**values)


def parsed(ics: bytes) -> tuple[Calendar, object]:
    cal = Calendar.from_ical(ics)
    (event,) = cal.walk("VEVENT")
    return cal, event


def lines(ics: bytes) -> list[str]:
    return _unfold(ics.decode())


def test_a_request_carries_every_property_of_the_session():
    ics = calendar.invite(session(), MEMBER, "REQUEST")
    cal, event = parsed(ics)
    text = lines(ics)
    assert cal["METHOD"] == "REQUEST" and cal["PRODID"] == calendar.PRODID
    assert cal["VERSION"] == "2.0" and "UID" not in cal
    assert "DTSTART;TZID=Europe/London:20271028T140000" in text
    assert "DTEND;TZID=Europe/London:20271028T171500" in text
    assert event["UID"] == "session-abc@toolkit.example" and event["SEQUENCE"] == 2
    assert event["SUMMARY"] == "Set A: session 2, Action learning"
    assert event["LOCATION"] == "Seminar Room 2, Education Centre, Kent"
    assert event["URL"] == "https://teams.example/meet/set-a"
    # every kind of line break becomes an escaped \n, so no reader splits the content line
    assert event["DESCRIPTION"] == "Set A, session 2\nAgenda:\n14:00 Check-in"
    assert "DESCRIPTION:Set A\\, session 2\\nAgenda:\\n14:00 Check-in" in text
    assert event["STATUS"] == "CONFIRMED" and event["TRANSP"] == "OPAQUE"
    assert "LAST-MODIFIED" not in event
    stamp = event["DTSTAMP"].dt
    assert abs(stamp - datetime.now(UTC)) < timedelta(minutes=1) and stamp.tzinfo is not None


def test_a_request_names_the_organiser_sent_by_the_toolkit_and_one_attendee():
    _cal, event = parsed(calendar.invite(session(), MEMBER, "REQUEST"))
    organizer = event["ORGANIZER"]
    assert str(organizer) == "mailto:fac@example.org"
    assert organizer.params["CN"] == "Dr Siobhán O'Neil"
    assert organizer.params["SENT-BY"] == f"mailto:{SENDER}"
    attendee = event["ATTENDEE"]
    assert str(attendee) == "mailto:zoe@example.nhs.uk" and attendee.params["CN"] == "Zoë Marsh"
    assert attendee.params["ROLE"] == "REQ-PARTICIPANT"
    assert attendee.params["PARTSTAT"] == "NEEDS-ACTION" and attendee.params["RSVP"] == "TRUE"


def test_a_request_reminds_before_the_start_and_only_when_asked():
    _cal, event = parsed(calendar.invite(session(), MEMBER, "REQUEST"))
    (alarm,) = event.walk("VALARM")
    assert alarm["ACTION"] == "DISPLAY"
    assert alarm["TRIGGER"].dt == timedelta(minutes=-90)
    assert alarm["DESCRIPTION"] == "Reminder: Set A: session 2, Action learning"
    _cal, quiet = parsed(calendar.invite(session(reminder_minutes=0), MEMBER, "REQUEST"))
    assert quiet.walk("VALARM") == []


@pytest.mark.parametrize("cancelled", [False, True])
def test_every_cancel_is_cancelled_asks_no_reply_and_sets_no_alarm(cancelled):
    """A CANCEL says STATUS:CANCELLED even when the session itself still stands: that is the
    message a removed member gets."""
    ics = calendar.invite(session(cancelled=cancelled), MEMBER, "CANCEL")
    cal, event = parsed(ics)
    assert cal["METHOD"] == "CANCEL" and event["STATUS"] == "CANCELLED"
    assert event["ATTENDEE"].params["RSVP"] == "FALSE"
    assert event.walk("VALARM") == []
    assert "DTSTART;TZID=Europe/London:20271028T140000" in lines(ics)
    assert event["UID"] == "session-abc@toolkit.example" and event["SEQUENCE"] == 2


def test_a_cancelled_session_shows_cancelled_in_any_message():
    _cal, event = parsed(calendar.single(session(cancelled=True)))
    assert event["STATUS"] == "CANCELLED" and event.walk("VALARM") == []


def test_only_request_and_cancel_are_sent():
    with pytest.raises(ValueError, match="unknown iTIP method PUBLISH"):
        calendar.invite(session(), MEMBER, "PUBLISH")


def test_a_session_without_place_or_link_has_no_location_or_url():
    _cal, event = parsed(calendar.invite(session(location=" \n ", video_url=""), MEMBER, "REQUEST"))
    assert "LOCATION" not in event and "URL" not in event


def test_header_like_text_stays_on_one_line():
    hostile = session(
        summary="Set A\r\nATTENDEE:mailto:spy@evil.example",
        video_url="https://x.example/\r\nX-EVIL:1",
        organizer=Person("Dr X\nY", "fac@example.org"),
    )
    ics = calendar.invite(hostile, Person("Eve\u2028Bcc", "eve@example.org"), "REQUEST")
    _cal, event = parsed(ics)
    assert event["SUMMARY"] == "Set A ATTENDEE:mailto:spy@evil.example"
    assert event["URL"] == "https://x.example/ X-EVIL:1"
    assert event["ORGANIZER"].params["CN"] == "Dr X Y"
    assert event["ATTENDEE"].params["CN"] == "Eve Bcc"
    assert not any(line.startswith(("X-EVIL", "ATTENDEE:mailto:spy")) for line in lines(ics))


def test_a_single_download_is_published_by_the_organiser_alone():
    ics = calendar.single(session())
    cal, event = parsed(ics)
    assert cal["METHOD"] == "PUBLISH" and "UID" not in cal
    assert "ATTENDEE" not in event and "SENT-BY" not in event["ORGANIZER"].params
    assert str(event["ORGANIZER"]) == "mailto:fac@example.org"
    assert "DTEND;TZID=Europe/London:20271028T171500" in lines(ics)


def test_the_feed_names_the_set_refreshes_hourly_and_stamps_each_change():
    early = session(uid="one@x", changed=datetime(2027, 1, 2, 8, 0, 0, 999, tzinfo=UTC))
    later = session(uid="two@x", start=datetime(2027, 11, 25, 14, 0))
    ics = calendar.feed("Set A, Kent\nSurrey", "set-a@x", [early, later])
    cal = Calendar.from_ical(ics)
    text = lines(ics)
    assert "METHOD" not in cal and cal["UID"] == "set-a@x"
    assert "NAME;VALUE=TEXT:Set A\\, Kent Surrey" in text
    assert "X-WR-CALNAME;VALUE=TEXT:Set A\\, Kent Surrey" in text
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in text and "X-PUBLISHED-TTL:PT1H" in text
    first, second = cal.walk("VEVENT")
    assert first["DTSTAMP"].dt == first["LAST-MODIFIED"].dt == datetime(2027, 1, 2, 8, tzinfo=UTC)
    assert second["DTSTAMP"].dt == CHANGED.replace(microsecond=0)
    assert "DTSTAMP:20270105T093015Z" in text
    for event in (first, second):
        assert str(event["ORGANIZER"]) == f"mailto:{SENDER}"
        assert event["ORGANIZER"].params["CN"] == "Dr Siobhán O'Neil"
        assert "ATTENDEE" not in event
    assert len(cal.walk("VTIMEZONE")) == 1


def test_a_feed_over_two_zones_has_one_vtimezone_for_each():
    ics = calendar.feed("Set", "s@x", [session(), session(uid="b@x", zone="Australia/Sydney")])
    assert sorted(vtimezones(ics.decode())) == ["Australia/Sydney", "Europe/London"]
    utc = event_starts_utc(ics.decode())
    assert utc == [datetime(2027, 10, 28, 13, 0), datetime(2027, 10, 28, 3, 0)]


# --- VTIMEZONE, read as a client that knows no zone by name would read it ---


def _instants(zone: ZoneInfo, first: int, last: int) -> list[datetime]:
    """Every third hour of the years, and each hour from six before to six after a change."""
    moment, end = datetime(first, 1, 1, tzinfo=UTC), datetime(last + 1, 1, 1, tzinfo=UTC)
    found = []
    while moment < end:
        found.append(moment)
        moment += timedelta(hours=3)
    for year in range(first, last + 1):
        for change, _before, _after in calendar._transitions(zone, year):
            found += [change + timedelta(hours=h) for h in range(-6, 7)]
    return sorted(set(found))


def _unambiguous(local: datetime, zone: ZoneInfo) -> bool:
    """False for a wall time that happens twice (or never): no rule set can name one instant."""
    first, second = local.replace(tzinfo=zone, fold=0), local.replace(tzinfo=zone, fold=1)
    return first.utcoffset() == second.utcoffset()


def _misread(name: str, first: int, last: int) -> list[tuple[datetime, datetime]]:
    """(local time, what the VTIMEZONE alone makes of it) wherever that is the wrong instant."""
    zone = ZoneInfo(name)
    ics = calendar.vtimezone(name, first, last).to_ical().decode()
    components = vtimezones(ics)[name]
    wrong = []
    for instant in _instants(zone, first, last):
        local = instant.astimezone(zone).replace(tzinfo=None)
        if not first <= local.year <= last or not _unambiguous(local, zone):
            continue
        read = to_utc(local, components).replace(tzinfo=UTC)
        if read != instant:
            wrong.append((local, read))
    return wrong


@pytest.mark.parametrize(
    ("name", "first", "last", "form"),
    [
        ("Europe/London", 2027, 2028, "rules"),  # last Sunday of March and of October
        ("America/New_York", 2027, 2027, "rules"),  # second Sunday of March, first of November
        ("America/New_York", 2026, 2026, "rules"),  # ... which falls on 8 March in 2026
        ("Pacific/Fiji", 2019, 2019, "rules"),  # summer time ended in January, began in November
        ("Australia/Sydney", 2027, 2028, "rules"),  # southern: summer time over the new year
        ("Pacific/Auckland", 2027, 2027, "rules"),  # southern, +13 in summer
        ("Asia/Kolkata", 2027, 2028, "fixed"),  # no changes, half-hour offset
        ("UTC", 2027, 2027, "fixed"),
        ("America/Mexico_City", 2022, 2023, "dates"),  # summer time ended for good in 2022
        ("America/Mexico_City", 2022, 2022, "rules"),  # within 2022 its yearly rules still hold
        ("Europe/Moscow", 2014, 2014, "dates"),  # one change, +4 to +3 for good, in Oct 2014
        ("Europe/Volgograd", 2020, 2020, "dates"),  # one change, +4 to +3, in Dec 2020
        ("Asia/Pyongyang", 2016, 2018, "dates"),  # no change in 2016; +8:30 to +9 in May 2018
    ],
)
def test_the_vtimezone_alone_gives_the_right_instant_all_year(name, first, last, form):
    zone_text = calendar.vtimezone(name, first, last).to_ical().decode()
    assert f"TZID:{name}" in zone_text
    components = vtimezones(zone_text)[name]
    if form == "rules":
        assert [c["RRULE"].startswith("FREQ=YEARLY;") for c in components] == [True, True]
        assert {c["DTSTART"][:4] for c in components} == {"1970"}
    elif form == "fixed":
        (only,) = components
        assert "RRULE" not in only and only["TZOFFSETFROM"] == only["TZOFFSETTO"]
    else:
        assert "RRULE" not in zone_text and len(components) >= 2
    assert _misread(name, first, last) == []


def test_the_fixed_form_names_the_zone_and_its_offset():
    components = vtimezones(calendar.vtimezone("Asia/Kolkata", 2027, 2027).to_ical().decode())
    assert components["Asia/Kolkata"] == [
        {
            "DTSTART": "19700101T000000",
            "TZNAME": "IST",
            "TZOFFSETFROM": "+0530",
            "TZOFFSETTO": "+0530",
        }
    ]


@pytest.mark.parametrize(
    ("name", "daylight", "standard"),
    [
        (
            "Europe/London",
            ("19700329T010000", "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3", "+0000", "+0100", "BST"),
            ("19701025T020000", "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10", "+0100", "+0000", "GMT"),
        ),
        (
            "America/New_York",
            ("19700308T020000", "FREQ=YEARLY;BYDAY=2SU;BYMONTH=3", "-0500", "-0400", "EDT"),
            ("19701101T020000", "FREQ=YEARLY;BYDAY=1SU;BYMONTH=11", "-0400", "-0500", "EST"),
        ),
        (
            "Pacific/Auckland",
            ("19700927T020000", "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=9", "+1200", "+1300", "NZDT"),
            ("19700405T030000", "FREQ=YEARLY;BYDAY=1SU;BYMONTH=4", "+1300", "+1200", "NZST"),
        ),
    ],
)
def test_the_rules_form_is_the_one_outlook_writes(name, daylight, standard):
    """STANDARD first, then DAYLIGHT; each with its 1970 onset in the offset before it."""
    text = calendar.vtimezone(name, 2027, 2027).to_ical().decode()
    assert text.index("BEGIN:STANDARD") < text.index("BEGIN:DAYLIGHT")
    keys = ("DTSTART", "RRULE", "TZOFFSETFROM", "TZOFFSETTO", "TZNAME")
    got = {}
    for kind in ("STANDARD", "DAYLIGHT"):
        part = text.split(f"BEGIN:{kind}")[1].split(f"END:{kind}")[0]
        fields = dict(line.partition(":")[::2] for line in part.split() if ":" in line)
        got[kind] = tuple(fields[k] for k in keys)
    assert got == {"DAYLIGHT": daylight, "STANDARD": standard}


@pytest.mark.parametrize(
    ("local", "utc_hour"),
    [
        (datetime(2027, 3, 25, 14, 0), 14),  # Thursday before the spring change: GMT
        (datetime(2027, 3, 29, 14, 0), 13),  # Monday after it: BST
        (datetime(2027, 10, 28, 14, 0), 13),  # Thursday before the autumn change: BST
        (datetime(2027, 11, 1, 14, 0), 14),  # Monday after it: GMT
        (datetime(2028, 3, 23, 9, 30), 9),  # the next year's changes come from the same rules
        (datetime(2028, 10, 27, 9, 30), 8),
    ],
)
def test_invites_either_side_of_both_changes_read_right_from_the_file_alone(local, utc_hour):
    ics = calendar.invite(session(start=local), MEMBER, "REQUEST").decode()
    assert "RRULE:FREQ=YEARLY" in ics and "RDATE" not in ics
    (start,) = event_starts_utc(ics)
    assert (start.date(), start.hour, start.minute) == (local.date(), utc_hour, local.minute)
    end_line = next(line for line in _unfold(ics) if line.startswith("DTEND"))
    end_local = datetime.strptime(end_line.split(":")[1], "%Y%m%dT%H%M%S")
    end = to_utc(end_local, vtimezones(ics)["Europe/London"])
    assert end - start == timedelta(minutes=195)


def test_a_southern_session_reads_right_either_side_of_its_changes():
    """Sydney: summer time from the first Sunday of October to the first Sunday of April."""
    starts = [datetime(2027, 4, 1, 18), datetime(2027, 4, 8, 18), datetime(2027, 10, 7, 18)]
    sessions = [
        session(uid=f"s{n}@x", zone="Australia/Sydney", start=s) for n, s in enumerate(starts)
    ]
    ics = calendar.feed("Set", "s@x", sessions).decode()
    assert [s.hour for s in event_starts_utc(ics)] == [7, 8, 7]  # +11, +10, +11


def test_a_set_spanning_years_whose_rules_differ_falls_back_to_dates():
    """Mexico City kept summer time in 2022 and dropped it from 2023: one yearly rule cannot say
    both, so the VTIMEZONE lists the changes, and both sessions read right."""
    sessions = [
        session(uid="a@x", zone="America/Mexico_City", start=datetime(2022, 6, 2, 10)),
        session(uid="b@x", zone="America/Mexico_City", start=datetime(2023, 6, 1, 10)),
    ]
    ics = calendar.feed("Set", "s@x", sessions).decode()
    assert "RRULE" not in ics
    assert [s.hour for s in event_starts_utc(ics)] == [15, 16]  # CDT -5, then CST -6 all year


def test_a_zone_that_changed_its_offset_for_good_reads_right_before_the_change():
    """Moscow moved from +4 to +3 for good on 26 Oct 2014: a yearly rule would put a session
    in March 2014 an hour out (+3)."""
    sessions = [
        session(uid="a@x", zone="Europe/Moscow", start=datetime(2014, 3, 6, 10)),
        session(uid="b@x", zone="Europe/Moscow", start=datetime(2014, 11, 6, 10)),
    ]
    ics = calendar.feed("Set", "s@x", sessions).decode()
    assert [s.hour for s in event_starts_utc(ics)] == [6, 7]


def test_a_zone_without_changes_in_the_first_year_but_one_later_is_not_taken_as_fixed():
    """Pyongyang kept +8:30 all through 2016 and 2017, and went back to +9 in May 2018: one
    fixed offset would put the 2018 session half an hour out."""
    sessions = [
        session(uid="a@x", zone="Asia/Pyongyang", start=datetime(2016, 6, 2, 10)),
        session(uid="b@x", zone="Asia/Pyongyang", start=datetime(2018, 6, 7, 10)),
    ]
    ics = calendar.feed("Set", "s@x", sessions).decode()
    assert [(s.hour, s.minute) for s in event_starts_utc(ics)] == [(1, 30), (1, 0)]


def test_vtimezone_covers_the_years_of_the_sessions_in_its_zone_only():
    """The years checked come from the sessions in that zone (the first and the last)."""
    sessions = [
        session(uid="a@x", zone="America/Mexico_City", start=datetime(2022, 6, 2, 10)),
        session(uid="b@x", zone="Europe/London", start=datetime(2019, 6, 2, 10)),
        session(uid="c@x", zone="America/Mexico_City", start=datetime(2023, 6, 1, 10)),
    ]
    ics = calendar.feed("Set", "s@x", sessions).decode()
    zones = vtimezones(ics)
    assert "RRULE" not in str(zones["America/Mexico_City"])
    assert zones["America/Mexico_City"][0]["DTSTART"].startswith("2022")
    assert [s.hour for s in event_starts_utc(ics)] == [15, 9, 16]


def test_byday_names_the_last_weekday_of_a_month_as_minus_one():
    assert calendar._byday(datetime(2027, 10, 31)) == "-1SU"
    assert calendar._byday(datetime(2027, 10, 24)) == "4SU"
    assert calendar._byday(datetime(2027, 11, 7)) == "1SU"
    assert calendar._byday(datetime(2027, 3, 14)) == "2SU"
    assert (
        calendar._byday(datetime(2026, 3, 8)) == "2SU"
        and calendar._byday(datetime(2026, 3, 1)) == "1SU"
    )
    assert calendar._byday(datetime(2027, 2, 22)) == "-1MO"  # 22 + 7 > 28
    assert calendar._rule_date(2027, 10, "-1SU") == 31
    assert calendar._rule_date(2027, 3, "2SU") == 14
    assert calendar._rule_date(2028, 2, "-1TU") == 29
