"""Calendars read back: who organises and sends, escaped one-line names, and a feed that caches."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from email import message_from_bytes
from email.policy import default
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

import pytest
import recurring_ical_events
from icalendar import Calendar

from toolkit import db as database
from toolkit import invites, sets
from toolkit.accounts import create_user
from toolkit.config import REPO_ROOT, Settings
from toolkit.mail import Outbox
from toolkit.models import LearningSet, MeetingChange, User
from toolkit.planning import local_start
from toolkit.session_templates import load_session_templates

MAIL_FROM = "learning-sets@kss.example.nhs.uk"
FACILITATOR = ("Dr Siobhán O'Neil", "fac@example.org")
MEMBERS = [("Zoë Marsh", "zoe@example.nhs.uk"), ("Łukasz Nowak", "lukasz@example.nhs.uk")]
# a title as a restored backup or an older database may hold it: comma, semicolon, quotes,
# a backslash and a Unicode line separator (U+2028), which must come out as a space
RAW_TITLE = 'Foundation, Kent;\u2028"A" \\ set'
SHOWN_TITLE = 'Foundation, Kent; "A" \\ set'


@pytest.fixture
def settings(env: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("TOOLKIT_MAIL_FROM", MAIL_FROM)
    return Settings.from_env()


@pytest.fixture
def factory(settings: Settings):
    return database.session_factory(database.make_engine(settings.database_url))


@pytest.fixture
def config(settings: Settings) -> invites.InviteSettings:
    return invites.InviteSettings.from_settings(settings)


@pytest.fixture
def set_id(factory) -> int:
    """Two members, three sessions every 6 weeks from 12 Feb 2037 (the third in BST)."""
    templates = load_session_templates(REPO_ROOT / "session_templates")
    with database.transaction(factory) as db:
        owner = create_user(db, FACILITATOR[1], None, FACILITATOR[0])
        s = sets.create_set(db, owner, "set-a", "Set A", venue="Seminar Room 2")
        for name, email in MEMBERS:
            sets.add_member(db, s, name, email, "FY2")
        start = local_start(date(2037, 2, 12), time(14, 0), "Europe/London")
        sets.add_series(db, s, start, 6, 3, templates["action-learning-set"])
        return s.id


def _feed(factory, set_id: int, config: invites.InviteSettings) -> bytes:
    with factory() as db:
        return invites.feed(db.get(LearningSet, set_id), config)


def _unfolded(ics: bytes) -> str:
    return ics.decode().replace("\r\n ", "")


def _sent_calendars(folder: Path) -> list[bytes]:
    """The text/calendar part of every message written to the outbox `folder`."""
    found = []
    for path in sorted(folder.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=default)
        part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
        found.append(part.get_payload(decode=True))
    return found


def _send(factory, set_id: int, config: invites.InviteSettings, folder: Path) -> list[bytes]:
    with factory() as db:
        owed = invites.pending_invites(db, db.get(LearningSet, set_id))
        invites.send_pending(factory, owed, config, Outbox(folder), delays=(0.01,))
    return _sent_calendars(folder)


def _text(raw: str) -> str:
    """A TEXT value decoded as RFC 5545 (3.3.11) says: backslash escapes, nothing else."""
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m[1] in "nN" else m[1], raw)


def test_invites_and_cancellations_name_the_facilitator_sent_by_the_toolkit(
    factory, set_id, config, tmp_path
):
    requests = [Calendar.from_ical(c) for c in _send(factory, set_id, config, tmp_path / "a")]
    with database.transaction(factory) as db:
        sets.set_status(db, sets.meetings_in_order(db.get(LearningSet, set_id))[1], "cancelled")
    raw = _send(factory, set_id, config, tmp_path / "b")
    cancels = [Calendar.from_ical(c) for c in raw]
    assert [c["METHOD"] for c in requests] == ["REQUEST"] * 6
    assert [c["METHOD"] for c in cancels] == ["CANCEL"] * 2
    for cal in requests + cancels:
        event = cal.walk("VEVENT")[0]
        organizer = event["ORGANIZER"]
        assert str(organizer) == f"mailto:{FACILITATOR[1]}"
        assert organizer.params["CN"] == FACILITATOR[0]
        assert organizer.params["SENT-BY"] == f"mailto:{MAIL_FROM}"
        assert "UID" not in cal  # RFC 5546 has no calendar-level UID in iTIP
        # an iTIP message is stamped when it is made
        assert abs(event["DTSTAMP"].dt - datetime.now(UTC)) < timedelta(minutes=5)
    assert {c.walk("VEVENT")[0]["ATTENDEE"].params["RSVP"] for c in requests} == {"TRUE"}
    cancelled = [c.walk("VEVENT")[0] for c in cancels]
    assert {e["ATTENDEE"].params["RSVP"] for e in cancelled} == {"FALSE"}
    assert {e["STATUS"] for e in cancelled} == {"CANCELLED"} and not cancelled[0].walk("VALARM")
    assert f';SENT-BY="mailto:{MAIL_FROM}":'.encode() in raw[0].replace(b"\r\n ", b"")


def test_single_download_has_no_calendar_uid(factory, set_id, config):
    with factory() as db:
        meeting = db.get(LearningSet, set_id).meetings[0]
        cal = Calendar.from_ical(invites.single(meeting, config))
    assert cal["METHOD"] == "PUBLISH" and "UID" not in cal


def test_feed_names_nobody_by_address_but_keeps_the_facilitators_name(factory, set_id, config):
    text = _unfolded(_feed(factory, set_id, config))
    for _name, email in [FACILITATOR, *MEMBERS]:
        assert email not in text
    assert set(re.findall(r"mailto:([^\s;:]+)", text)) == {MAIL_FROM}
    events = Calendar.from_ical(text).walk("VEVENT")
    assert {e["ORGANIZER"].params["CN"] for e in events} == {FACILITATOR[0]}
    assert "ATTENDEE" not in text and "SENT-BY" not in text


def test_feed_asks_for_hourly_refresh_and_has_its_own_uid(factory, set_id, config):
    ics = _feed(factory, set_id, config)
    assert b"\r\nREFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in ics
    assert b"\r\nX-PUBLISHED-TTL:PT1H\r\n" in ics
    cal = Calendar.from_ical(ics)
    assert cal["REFRESH-INTERVAL"].dt == timedelta(hours=1)
    assert cal["UID"] == f"set-set-a@{config.host}" and "METHOD" not in cal


def test_feed_stamps_each_event_with_its_last_real_change(factory, set_id, config):
    with database.transaction(factory) as db:
        s = db.get(LearningSet, set_id)
        created = s.created_at.replace(microsecond=0)
        second = sets.meetings_in_order(s)[1]
        sets.change_meeting(db, second, start=second.starts_at + timedelta(hours=1))
    with factory() as db:
        moved = db.query(MeetingChange).one().changed_at.replace(microsecond=0)
    cal = Calendar.from_ical(_feed(factory, set_id, config))
    events = cal.walk("VEVENT")
    assert [e["LAST-MODIFIED"].dt for e in events] == [created, moved, created]
    assert [e["DTSTAMP"].dt for e in events] == [created, moved, created]
    assert moved >= created and events[1]["SEQUENCE"] == 1
    shown = recurring_ical_events.of(cal).between(date(2037, 1, 1), date(2037, 12, 31))
    assert [(e["DTSTART"].dt.month, e["DTSTART"].dt.hour) for e in shown] == [
        (2, 14),
        (3, 15),
        (5, 14),
    ]


def _store_raw(factory, set_id: int) -> None:
    """Write values with line breaks straight to the rows, as a restore of an old backup can."""
    with database.transaction(factory) as db:
        s = db.get(LearningSet, set_id)
        s.title = RAW_TITLE
        s.venue = "Seminar Room 2\nEducation Centre\u0085Maidstone"
        db.query(User).one().name = "Dr Siobhán\r\nO'Neil"


def test_feed_names_are_escaped_text_on_one_line(factory, set_id, config):
    _store_raw(factory, set_id)
    ics = _feed(factory, set_id, config)
    cal = Calendar.from_ical(ics)
    # icalendar 7.3 hands NAME back undecoded (it does not know its type): decode it as TEXT
    for prop in ("NAME", "X-WR-CALNAME"):
        assert _text(cal[prop].to_ical().decode()) == SHOWN_TITLE
    assert b'NAME;VALUE=TEXT:Foundation\\, Kent\\; "A" \\\\ set\r\n' in ics
    event = cal.walk("VEVENT")[0]
    assert event["SUMMARY"].startswith(f"{SHOWN_TITLE}: session 1, ")
    assert event["LOCATION"] == "Seminar Room 2, Education Centre, Maidstone"
    assert event["ORGANIZER"].params["CN"] == "Dr Siobhán O'Neil"
    for breaking in ("\u2028", "\u2029", "\u0085"):
        assert breaking not in ics.decode()


def test_feed_name_reads_back_in_vobject(factory, set_id, config):
    vobject = pytest.importorskip("vobject")
    _store_raw(factory, set_id)
    parsed = vobject.readOne(_feed(factory, set_id, config).decode())
    assert parsed.x_wr_calname.value == SHOWN_TITLE


def test_cli_writes_invites_and_feed_for_a_title_with_a_line_break(
    runner, factory, set_id, tmp_path
):
    from toolkit.cli import main

    with database.transaction(factory) as db:
        db.get(LearningSet, set_id).title = "Set\nA"
    result = runner.invoke(main, ["invites", "set-a", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    cal = Calendar.from_ical((tmp_path / "out" / "feed.ics").read_bytes())
    assert str(cal["X-WR-CALNAME"]) == "Set A"
    sent = [Calendar.from_ical(c) for c in _sent_calendars(tmp_path / "out")]
    assert [c["METHOD"] for c in sent] == ["REQUEST"] * 6


@pytest.fixture
def feed_url(factory, set_id) -> str:
    with factory() as db:
        return f"/feeds/{db.get(LearningSet, set_id).feed_token}.ics"


def test_feed_is_cacheable_and_answers_conditional_gets(app, factory, set_id, feed_url):
    client = app.test_client()
    first = client.get(feed_url)
    assert first.status_code == 200
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag == f'"{hashlib.sha256(first.data).hexdigest()}"'  # strong, from the content
    with factory() as db:
        created = db.get(LearningSet, set_id).created_at
    assert parsedate_to_datetime(modified) == created.replace(microsecond=0)
    assert first.headers["Cache-Control"] in ("private, max-age=300", "max-age=300, private")
    clock.sleep(1.1)
    again = client.get(feed_url)
    assert again.data == first.data and again.headers["ETag"] == etag
    unchanged = client.get(feed_url, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.data == b""
    assert unchanged.headers["ETag"] == etag
    assert client.get(feed_url, headers={"If-Modified-Since": modified}).status_code == 304
    earlier = format_datetime(parsedate_to_datetime(modified) - timedelta(seconds=1), usegmt=True)
    assert client.get(feed_url, headers={"If-Modified-Since": earlier}).status_code == 200
    # an ETag that no longer matches wins over a date that would
    stale = {"If-None-Match": '"other"', "If-Modified-Since": modified}
    assert client.get(feed_url, headers=stale).status_code == 200


def test_a_real_change_gives_a_new_etag_and_last_modified(app, factory, set_id, feed_url):
    client = app.test_client()
    before = client.get(feed_url)
    clock.sleep(1.1)  # HTTP dates count whole seconds
    with database.transaction(factory) as db:
        sets.set_status(db, sets.meetings_in_order(db.get(LearningSet, set_id))[2], "cancelled")
    after = client.get(feed_url, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    newer = parsedate_to_datetime(after.headers["Last-Modified"])
    assert newer > parsedate_to_datetime(before.headers["Last-Modified"])
    since = {"If-Modified-Since": before.headers["Last-Modified"]}
    assert client.get(feed_url, headers=since).status_code == 200
    event = Calendar.from_ical(after.data).walk("VEVENT")[2]
    assert event["STATUS"] == "CANCELLED" and event["LAST-MODIFIED"].dt == newer


@pytest.mark.parametrize("edit", ["retitle the session", "edit its agenda", "rename the set"])
def test_any_change_an_event_shows_moves_its_last_modified(app, factory, set_id, feed_url, edit):
    """Before: only time, place or status moved it, so ICSx5 and If-Modified-Since kept old text."""
    client = app.test_client()
    before = client.get(feed_url)
    clock.sleep(1.1)  # HTTP dates count whole seconds
    with database.transaction(factory) as db:
        learning_set = db.get(LearningSet, set_id)
        meeting = sets.meetings_in_order(learning_set)[1]
        if edit == "retitle the session":
            sets.change_meeting(db, meeting, title="Bringing it together")
        elif edit == "edit its agenda":
            sets.add_block(db, meeting, "Guest talk", "input", 5)
        else:
            learning_set.title = "Set A (Kent)"
    since = {"If-Modified-Since": before.headers["Last-Modified"]}
    after = client.get(feed_url, headers=since)
    assert after.status_code == 200
    newer = parsedate_to_datetime(after.headers["Last-Modified"])
    assert newer > parsedate_to_datetime(before.headers["Last-Modified"])
    event = Calendar.from_ical(after.data).walk("VEVENT")[1]
    assert event["LAST-MODIFIED"].dt == newer and event["DTSTAMP"].dt == newer


# ical.js: the parser Thunderbird and many web calendars use
READER = Path(__file__).parent / "icaljs_read.cjs"


def read(ics: bytes, tmp_path: Path) -> dict:
    """What ical.js reads from `ics` (see icaljs_read.cjs)."""
    assert shutil.which("node"), "Node.js is needed for the ical.js tests"
    assert (REPO_ROOT / "node_modules" / "ical.js").exists(), "run `npm ci` (make test does)"
    path = tmp_path / "read.ics"
    path.write_bytes(ics)
    out = subprocess.run(
        ["node", str(READER), str(path)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_the_feed_reads_the_same_in_icaljs_and_icalendar(factory, set_id, config, tmp_path):
    with database.transaction(factory) as db:
        db.get(LearningSet, set_id).title = RAW_TITLE
    body = _feed(factory, set_id, config)
    seen = read(body, tmp_path)
    ours = Calendar.from_ical(body).walk("VEVENT")
    # before VALUE=TEXT, ical.js showed the escapes: 'Foundation\\, Kent\\; "A" \\\\ set'
    assert seen["name"] == seen["rfc7986_name"] == SHOWN_TITLE and seen["method"] is None
    assert [e["uid"] for e in seen["events"]] == [str(e["UID"]) for e in ours]
    starts = [e["DTSTART"].dt.astimezone(UTC) for e in ours]
    assert [datetime.fromisoformat(e["start"]) for e in seen["events"]] == starts
    # 14:00 in London either side of the clocks going forward: 14:00 UTC, then 13:00 UTC
    assert [s.hour for s in starts] == [14, 14, 13]
    assert {e["zone"] for e in seen["events"]} == {"Europe/London"}
    assert {e["organizer"] for e in seen["events"]} == {f"mailto:{MAIL_FROM}"}
    assert {e["organizer_cn"] for e in seen["events"]} == {FACILITATOR[0]}
    assert all(e["last_modified"] for e in seen["events"])


def test_a_request_and_its_cancellation_read_right_in_icaljs(factory, set_id, config, tmp_path):
    request = read(_send(factory, set_id, config, tmp_path / "a")[0], tmp_path)
    with database.transaction(factory) as db:
        sets.set_status(db, sets.meetings_in_order(db.get(LearningSet, set_id))[0], "cancelled")
    cancel = read(_send(factory, set_id, config, tmp_path / "b")[0], tmp_path)
    assert (request["method"], cancel["method"]) == ("REQUEST", "CANCEL")
    (asked,), (withdrawn,) = request["events"], cancel["events"]
    assert withdrawn["uid"] == asked["uid"] and withdrawn["sequence"] == asked["sequence"] + 1
    assert (asked["rsvp"], withdrawn["rsvp"]) == ("TRUE", "FALSE")
    assert withdrawn["status"] == "CANCELLED" and withdrawn["start"] == asked["start"]
    assert asked["organizer"] == f"mailto:{FACILITATOR[1]}"
    assert asked["sent_by"] == f"mailto:{MAIL_FROM}"
