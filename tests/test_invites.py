"""Invites end to end: real SMTP on loopback, calendars parsed back and expanded."""

from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime, time, timedelta
from email import message_from_bytes
from email.policy import default
from time import monotonic

import pytest
import recurring_ical_events
from icalendar import Calendar
from sqlalchemy import select

from toolkit import db as database
from toolkit import invites, sets
from toolkit.accounts import create_user
from toolkit.config import REPO_ROOT, Settings
from toolkit.mail import Outbox, Smtp
from toolkit.models import LearningSet, Meeting, SentInvite
from toolkit.planning import local_start
from toolkit.session_templates import load_session_templates

from .smtp_server import SilentServer, SmtpServer, free_port
from .vtimezone_reader import event_starts_utc

MEMBERS = [
    ("Zoë Marsh", "zoe@example.nhs.uk"),
    ("Łukasz Nowak", "lukasz@example.nhs.uk"),
    ("Siobhán O'Brien", "siobhan@example.nhs.uk"),
    ("Amara Okafor", "amara@example.nhs.uk"),
]
FAST = (0.01, 0.01, 0.01)


@pytest.fixture
def factory(env: Settings):
    return database.session_factory(database.make_engine(env.database_url))


@pytest.fixture
def config(env: Settings) -> invites.InviteSettings:
    return invites.InviteSettings.from_settings(env)


@pytest.fixture
def set_id(factory) -> int:
    """A set of 4 with 3 sessions every 6 weeks from 11 Feb 2027 at 14:00 (the third in BST)."""
    templates = load_session_templates(REPO_ROOT / "session_templates")
    with database.transaction(factory) as db:
        owner = create_user(db, "fac@example.org", None, "Dr Siobhán O'Neil")
        s = sets.create_set(db, owner, "set-a", "Set A", venue="Seminar Room 2")
        s.video_url = "https://teams.example/meet/set-a"
        for name, email in MEMBERS:
            sets.add_member(db, s, name, email, "FY2")
        start = local_start(date(2027, 2, 11), time(14, 0), "Europe/London")
        sets.add_series(db, s, start, 6, 3, templates["action-learning-set"])
        return s.id


_open: list = []


def owed(factory, set_id, **kw):
    """What is owed now, read through a fresh session kept open until the test ends."""
    db = factory()
    _open.append(db)
    return invites.pending_invites(db, db.get(LearningSet, set_id), now=NOW, **kw)


@pytest.fixture(autouse=True)
def _close_sessions(env):
    yield
    while _open:
        _open.pop().close()


NOW = datetime(2027, 1, 1, tzinfo=UTC)


def send(factory, set_id, config, transport, **kw):
    return invites.send_pending(
        factory, owed(factory, set_id), config, transport, delays=FAST, **kw
    )


def calendar_part(message):
    return next(p for p in message.walk() if p.get_content_type() == "text/calendar")


def test_first_send_mime_shape_method_attendee_and_timezone(factory, set_id, config):
    with SmtpServer() as server:
        outcomes = send(factory, set_id, config, Smtp(server.url))
    assert len(outcomes) == 12 and all(o.delivered for o in outcomes)
    messages = server.recorder.messages
    assert len(messages) == 12
    first = messages[0]
    assert first.get_content_type() == "multipart/mixed"
    alternative, attachment = first.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    kinds = [p.get_content_type() for p in alternative.get_payload()]
    assert kinds == ["text/plain", "text/html", "text/calendar"]
    inline = alternative.get_payload()[2]
    assert inline.get_param("method") == "REQUEST" and inline.get_param("charset") == "UTF-8"
    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_payload(decode=True) == inline.get_payload(decode=True)
    cal = Calendar.from_ical(inline.get_payload(decode=True))
    assert cal["METHOD"] == "REQUEST"
    events = cal.walk("VEVENT")
    assert len(events) == 1 and len(cal.walk("VTIMEZONE")) == 1
    event = events[0]
    attendees = event.get("ATTENDEE")
    assert not isinstance(attendees, list)
    assert str(attendees) == "mailto:zoe@example.nhs.uk"
    assert attendees.params["CN"] == "Zoë Marsh" and attendees.params["RSVP"] == "TRUE"
    assert attendees.params["PARTSTAT"] == "NEEDS-ACTION"
    assert str(event["ORGANIZER"]) == "mailto:fac@example.org"
    assert event["SEQUENCE"] == 0 and event["STATUS"] == "CONFIRMED"
    assert event["UID"].startswith("session-") and event["UID"].endswith("@127.0.0.1")
    assert event["URL"] == "https://teams.example/meet/set-a"
    assert "X-WR-TIMEZONE" not in inline.get_payload(decode=True).decode()
    assert event.walk("VALARM")[0]["TRIGGER"].dt == timedelta(days=-1)
    body = first.get_body(("plain",)).get_content()
    for fact in ("Thu 11 Feb 2027, 14:00 to 17:15", "Europe/London", "Seminar Room 2", "teams"):
        assert fact in body and fact in str(event["DESCRIPTION"])
    assert first["Reply-To"].addresses[0].addr_spec == "fac@example.org"
    assert first["Message-ID"].endswith("@127.0.0.1>") and first["Date"]
    # each message names only its own recipient
    for message, (_sender, rcpts) in zip(messages, server.recorder.envelopes, strict=True):
        others = [e for _n, e in MEMBERS if e not in rcpts]
        assert len(rcpts) == 1 and not any(e in message.as_string() for e in others)


def test_times_are_right_from_the_embedded_vtimezone_alone(factory, set_id, config, tmp_path):
    send(factory, set_id, config, Outbox(tmp_path))
    db = factory()
    expected = [m.starts_at for m in db.get(LearningSet, set_id).meetings]
    seen = {}
    for path in sorted(tmp_path.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=default)
        ics = calendar_part(message).get_payload(decode=True).decode()
        assert "RRULE:FREQ=YEARLY" in ics and "RDATE" not in ics
        (start,) = event_starts_utc(ics)
        seen[path.name.split("-")[1]] = start
    assert [seen[n].replace(tzinfo=UTC) for n in ("1", "2", "3")] == sorted(expected)
    assert [s.hour for s in (seen["1"], seen["2"], seen["3"])] == [14, 14, 13]  # BST from 28 Mar


def test_move_sends_update_with_same_uid_and_sequence_plus_one(factory, set_id, config):
    with SmtpServer() as server:
        send(factory, set_id, config, Smtp(server.url))
        assert send(factory, set_id, config, Smtp(server.url)) == []  # nothing twice
        with database.transaction(factory) as db:
            second = sets.meetings_in_order(db.get(LearningSet, set_id))[1]
            moved = second.starts_at + timedelta(days=1)
            sets.change_meeting(db, second, start=moved)
        pending = owed(factory, set_id)
        assert invites.out_of_date_members(pending) == 4
        assert {(p.method, p.sequence, p.reason) for p in pending} == {("REQUEST", 1, "updated")}
        send(factory, set_id, config, Smtp(server.url))
    first_round, update = server.recorder.messages[4], server.recorder.messages[12]
    old = Calendar.from_ical(calendar_part(first_round).get_payload(decode=True)).walk("VEVENT")[0]
    new = Calendar.from_ical(calendar_part(update).get_payload(decode=True)).walk("VEVENT")[0]
    assert new["UID"] == old["UID"] and new["SEQUENCE"] == old["SEQUENCE"] + 1 == 1
    assert new["DTSTART"].dt - old["DTSTART"].dt == timedelta(days=1)
    assert update["Subject"].startswith("Updated: Set A, session 2")


def test_cancel_sends_cancel_in_both_places(factory, set_id, config):
    with SmtpServer() as server:
        send(factory, set_id, config, Smtp(server.url))
        with database.transaction(factory) as db:
            third = sets.meetings_in_order(db.get(LearningSet, set_id))[2]
            sets.set_status(db, third, "cancelled")
        send(factory, set_id, config, Smtp(server.url))
        assert owed(factory, set_id) == []
    cancels = server.recorder.messages[12:]
    assert len(cancels) == 4
    for message in cancels:
        part = calendar_part(message)
        assert part.get_param("method") == "CANCEL"
        cal = Calendar.from_ical(part.get_payload(decode=True))
        event = cal.walk("VEVENT")[0]
        assert cal["METHOD"] == "CANCEL" and event["STATUS"] == "CANCELLED"
        assert event["SEQUENCE"] == 1 and not event.walk("VALARM")
        assert message["Subject"].startswith("Cancelled:")


def test_members_added_get_invites_and_removed_get_cancellations(factory, set_id, config, tmp_path):
    send(factory, set_id, config, Outbox(tmp_path))
    with database.transaction(factory) as db:
        s = db.get(LearningSet, set_id)
        sets.add_member(db, s, "Tom Reid", "tom@example.nhs.uk", "CT1")
        s.members[0].active = False
    pending = owed(factory, set_id)
    assert {(p.member.email, p.method, p.reason) for p in pending} == {
        ("tom@example.nhs.uk", "REQUEST", "new"),
        ("zoe@example.nhs.uk", "CANCEL", "removed"),
    }
    assert [p.sequence for p in pending if p.method == "CANCEL"] == [1, 1, 1]
    send(factory, set_id, config, Outbox(tmp_path))
    assert owed(factory, set_id) == []


def test_header_injection_is_neutralised(factory, set_id, config):
    with database.transaction(factory) as db:
        s = db.get(LearningSet, set_id)
        s.title = "Set A\r\nBcc: spy@evil.example"
        sets.add_member(db, s, "Eve\r\nBcc: spy@evil.example", "eve@example.nhs.uk")
    with SmtpServer() as server:
        send(factory, set_id, config, Smtp(server.url))
    assert len(server.recorder.messages) == 15
    for message, (_sender, rcpts) in zip(
        server.recorder.messages, server.recorder.envelopes, strict=True
    ):
        assert "spy@evil.example" not in rcpts and message["Bcc"] is None
        assert "\n" not in message["Subject"] and "\n" not in str(message["To"])
    eve = [m for m in server.recorder.messages if "eve@" in str(m["To"])]
    assert eve and eve[0]["To"].addresses[0].display_name == "Eve Bcc: spy@evil.example"


def test_temporary_failure_is_retried_and_permanent_one_reported(factory, set_id, config):
    with SmtpServer() as server:
        server.recorder.fail_next = 2
        server.recorder.reject = {"lukasz@example.nhs.uk"}
        outcomes = send(factory, set_id, config, Smtp(server.url))
    failed = [o for o in outcomes if not o.delivered]
    assert len(outcomes) == 12 and len(failed) == 3
    assert {o.pending.member.email for o in failed} == {"lukasz@example.nhs.uk"}
    assert all(o.detail.startswith("permanent: 550") for o in failed)
    assert len(server.recorder.messages) == 9
    # the failures are still owed; the delivered ones are not sent again
    assert {p.member.email for p in owed(factory, set_id)} == {"lukasz@example.nhs.uk"}


def test_server_down_is_reported_per_recipient(factory, set_id, config):
    outcomes = send(factory, set_id, config, Smtp(f"smtp://127.0.0.1:{free_port()}"))
    assert outcomes and all(
        o.detail.startswith("temporary: ConnectionRefusedError") for o in outcomes
    )


def test_a_silent_server_is_given_up_on_after_the_timeout_and_messages_stay_owed(
    factory, set_id, config
):
    pending = owed(factory, set_id)
    with SilentServer() as server:
        started = monotonic()
        outcomes = invites.send_pending(
            factory, pending, config, Smtp(f"smtp://127.0.0.1:{server.port}", timeout=1.0)
        )  # with the real retry delays (1, 4, 15 s)
        took = monotonic() - started
    # one wait of 1 s for the whole run; before: 4 tries x 20 s + 20 s of pauses, per recipient
    assert took < 3, took
    assert len(outcomes) == 12 and not any(o.delivered for o in outcomes)
    first, *rest = (o.detail for o in outcomes)
    assert first == "temporary: TimeoutError: no answer from the server within 1 s"
    assert all(d == f"{first} (not tried again in this send)" for d in rest)
    assert len(owed(factory, set_id)) == 12  # left owed, for the next send


def test_a_refused_connection_costs_no_retries(factory, set_id, config):
    pending = owed(factory, set_id)
    started = monotonic()
    outcomes = invites.send_pending(
        factory, pending, config, Smtp(f"smtp://127.0.0.1:{free_port()}")
    )  # with the real retry delays (1, 4, 15 s)
    took = monotonic() - started
    assert took < 2, took  # before: 20 s of retries per recipient, 240 s for these 12
    assert all(o.detail.startswith("temporary: ConnectionRefusedError") for o in outcomes)
    assert len(owed(factory, set_id)) == 12


def test_feed_matches_invites_and_expands(factory, set_id, config):
    with database.transaction(factory) as db:
        s = db.get(LearningSet, set_id)
        sets.set_status(db, sets.meetings_in_order(s)[2], "cancelled")
    db = factory()
    s = db.get(LearningSet, set_id)
    text = invites.feed(s, config).decode()
    cal = Calendar.from_ical(text)
    assert "METHOD" not in cal and cal["X-WR-CALNAME"] == "Set A"
    assert "ATTENDEE" not in text and "example.nhs.uk" not in text
    events = cal.walk("VEVENT")
    assert [e["STATUS"] for e in events] == ["CONFIRMED", "CONFIRMED", "CANCELLED"]
    assert [e["SEQUENCE"] for e in events] == [0, 0, 1]
    uids = [invites.event_uid(m, config.host) for m in sets.meetings_in_order(s)]
    assert [str(e["UID"]) for e in events] == uids
    shown = recurring_ical_events.of(cal).between(date(2027, 1, 1), date(2027, 12, 31))
    london = [e["DTSTART"].dt for e in shown]
    assert [(d.month, d.day, d.hour, d.minute) for d in london] == [
        (2, 11, 14, 0),
        (3, 25, 14, 0),
        (5, 6, 14, 0),
    ]
    assert event_starts_utc(text)[2].hour == 13


def test_single_download_is_publish(factory, set_id, config):
    db = factory()
    meeting = db.get(LearningSet, set_id).meetings[0]
    cal = Calendar.from_ical(invites.single(meeting, config))
    assert cal["METHOD"] == "PUBLISH" and len(cal.walk("VEVENT")) == 1
    assert "ATTENDEE" not in cal.walk("VEVENT")[0]


def test_calendars_are_deterministic_apart_from_dtstamp(factory, set_id, config):
    db = factory()
    s = db.get(LearningSet, set_id)

    def strip(ics: bytes) -> str:
        return "\n".join(
            line for line in ics.decode().splitlines() if not line.startswith("DTSTAMP")
        )

    assert strip(invites.feed(s, config)) == strip(invites.feed(s, config))


def test_past_sessions_are_not_invited(factory, set_id):
    db = factory()
    s = db.get(LearningSet, set_id)
    later = datetime(2027, 4, 1, tzinfo=UTC)
    pending = invites.pending_invites(db, s, now=later)
    assert {p.meeting.id for p in pending} == {sets.meetings_in_order(s)[2].id}
    assert isinstance(pending[0].meeting, Meeting)


def test_web_review_send_feed_and_download(app, signed_in, env, monkeypatch):
    from .test_sets_web import add_user, make_set, sign_in, text

    make_set(signed_in, first="2037-02-12")  # far enough ahead to stay in the future
    page = text(signed_in.get("/sets/set-a"))
    assert "36 invites not yet sent" in page
    review = text(signed_in.get("/sets/set-a/invites"))
    assert "36 messages will be sent" in review and "the outbox folder" in review
    assert (
        "Invitation: Set A, session 1 of 6: Action learning, "
        "Thu 12 Feb 2037, 14:00 to 17:15" in review
    )
    sent = signed_in.post("/sets/set-a/invites/send")
    assert sent.status_code == 302  # queued: the progress page follows the send log
    waiting = " ".join(
        re.sub(r"<[^>]+>", " ", text(signed_in.get(sent.headers["Location"]))).split()
    )
    assert "0 of 36 messages delivered" in waiting and "36 still to go" in waiting
    assert waiting.count("Waiting") == 36 and 'data-refresh="2"' in text(
        signed_in.get(sent.headers["Location"])
    )
    app.extensions["toolkit"].queue.burst()  # a worker takes them
    done = text(signed_in.get(sent.headers["Location"]))
    progress = " ".join(re.sub(r"<[^>]+>", " ", done).split())  # a line per recipient
    assert progress.count("Delivered") == 36 and "data-refresh" not in done
    assert "36 of 36 messages delivered to the outbox folder" in progress
    after = text(signed_in.get("/sets/set-a/invites"))
    assert "Everyone has up-to-date invites" in after
    assert len(list((env.data_dir / "outbox").glob("session-*.eml"))) == 36
    # move session 2: the set page says who is out of date
    db = app.extensions["toolkit"].sessions()
    second = sets.meetings_in_order(db.query(LearningSet).one())[1]
    signed_in.post(f"/sets/set-a/sessions/{second.key}/status", data={"status": "cancelled"})
    assert "6 members have out-of-date invites" in text(signed_in.get("/sets/set-a"))
    # the feed needs no sign-in, only the token; a new token retires the old address
    token = db.query(LearningSet).one().feed_token
    anonymous = app.test_client()
    feed = anonymous.get(f"/feeds/{token}.ics")
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    assert b"STATUS:CANCELLED" in feed.data and b"ATTENDEE" not in feed.data
    review = text(signed_in.get("/sets/set-a/invites"))  # the host of TOOLKIT_BASE_URL
    assert f"webcal://127.0.0.1:5000/feeds/{token}.ics" in review
    signed_in.post("/sets/set-a/feed-token")
    assert anonymous.get(f"/feeds/{token}.ics").status_code == 404
    assert anonymous.get("/feeds/short.ics").status_code == 404
    single = signed_in.get(f"/sets/set-a/sessions/{second.key}/calendar.ics")
    assert b"METHOD:PUBLISH" in single.data
    other = app.test_client()
    sign_in(other, add_user(app, "other@example.org"))
    assert other.get("/sets/set-a/invites").status_code == 404
    assert other.post("/sets/set-a/invites/send").status_code == 404
    assert other.get(f"/sets/set-a/sessions/{second.key}/calendar.ics").status_code == 404
    db.close()


def test_cli_writes_and_sends(runner, env, tmp_path, monkeypatch):
    from toolkit.cli import main

    example = (REPO_ROOT / "examples" / "learning-set.yaml").read_text()
    # the example's sessions to come, ten years on, so still ahead (session 1 has been held)
    future = tmp_path / "future.yaml"
    future.write_text(example.replace(" 2027-", " 2037-").replace("2026-27", "2036-37"))
    assert runner.invoke(main, ["sets", "import", str(future)]).exit_code == 0
    out = tmp_path / "eml"
    written = runner.invoke(
        main, ["invites", "kss-fy-2027-set-a", "--session", "2", "--out", str(out)]
    )
    assert written.exit_code == 0, written.output
    names = sorted(p.name for p in out.iterdir())
    assert "feed.ics" in names and len(names) == 7
    assert all(n.startswith("session-2-") for n in names if n != "feed.ics")
    for eml in out.glob("*.eml"):  # CRLF throughout, as RFC 5322 has it
        raw = eml.read_bytes()
        assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    with SmtpServer() as server:
        monkeypatch.setenv("TOOLKIT_SMTP_URL", server.url)
        result = runner.invoke(main, ["invites", "kss-fy-2027-set-a", "--send"])
        assert result.exit_code == 0, result.output
        assert "30 delivered, 0 failed" in result.output  # 5 sessions to come x 6 members
        again = runner.invoke(main, ["invites", "kss-fy-2027-set-a", "--send"])
        assert "sending 0 message(s)" in again.output
        resend = runner.invoke(
            main, ["invites", "kss-fy-2027-set-a", "--session", "2", "--send", "--all"]
        )
        assert "6 delivered" in resend.output
    assert len(server.recorder.messages) == 36
    neither = runner.invoke(main, ["invites", "kss-fy-2027-set-a"])
    assert neither.exit_code == 1 and "choose one of --out DIR or --send" in neither.output


def _send_at_once(factory, set_id, config, url: str, senders: int = 2) -> list:
    """Several sends of the same set, each working out what is owed before any of them sends."""
    barrier = threading.Barrier(senders)
    results: list = [None] * senders

    def run(i: int) -> None:
        pending = owed(factory, set_id)
        barrier.wait(timeout=30)
        results[i] = invites.send_pending(factory, pending, config, Smtp(url), delays=FAST)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_two_sends_at_once_deliver_each_message_once(factory, set_id, config):
    with SmtpServer() as server:
        first, second = _send_at_once(factory, set_id, config, server.url)
    assert len(first) == len(second) == 12  # both found the same 12 owed
    received = [(str(m["To"]), m["Subject"]) for m in server.recorder.messages]
    assert len(received) == 12 and len(set(received)) == 12  # 12 delivered, not 24
    outcomes = first + second
    assert sum(o.delivered for o in outcomes) == 12 and sum(o.skipped for o in outcomes) == 12
    assert all(o.detail == invites.ALREADY_SENDING for o in outcomes if o.skipped)
    assert owed(factory, set_id) == []
    rows = factory().scalars(select(SentInvite)).all()
    assert len(rows) == 12 and all(r.delivered and r.claim for r in rows)


def test_four_resends_at_once_with_all_send_one_fresh_copy_each(factory, set_id, config):
    with SmtpServer() as server:
        send(factory, set_id, config, Smtp(server.url))
        barrier = threading.Barrier(4)
        results = []

        def run() -> None:
            pending = owed(factory, set_id, resend=True)
            barrier.wait(timeout=30)
            results.append(
                invites.send_pending(factory, pending, config, Smtp(server.url), delays=FAST)
            )

        threads = [threading.Thread(target=run) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert len(server.recorder.messages) == 24  # 12 first, then 12 resent once, not 48
    assert sum(o.delivered for r in results for o in r) == 12


def test_failed_send_gives_up_its_claim_and_is_owed_again(factory, set_id, config):
    with SmtpServer() as server:
        server.recorder.reject = {"lukasz@example.nhs.uk"}
        outcomes = send(factory, set_id, config, Smtp(server.url))
        assert sum(not o.delivered for o in outcomes) == 3
        failed = factory().scalars(select(SentInvite).where(SentInvite.delivered.is_(False)))
        assert [(r.email, r.claim) for r in failed] == [("lukasz@example.nhs.uk", None)] * 3
        assert {p.member.email for p in owed(factory, set_id)} == {"lukasz@example.nhs.uk"}
        server.recorder.reject = set()
        again = send(factory, set_id, config, Smtp(server.url))
    assert [o.delivered for o in again] == [True] * 3
    assert len(server.recorder.messages) == 12 and owed(factory, set_id) == []


def test_a_send_left_unfinished_by_a_dead_worker_is_taken_up_again_after_the_lease(
    factory, set_id, config
):
    from toolkit.jobs import outgoing

    first, second = owed(factory, set_id)[:2]
    lease = 300.0  # the default: 20 SMTP timeouts of 15 s
    with database.transaction(factory) as db:
        for p, minutes in ((first, 6), (second, 4)):  # died 6 min ago; maybe still sending
            db.add(
                SentInvite(
                    meeting_id=p.meeting.id,
                    member_id=p.member.id,
                    email=p.member.email,
                    method=p.method,
                    sequence=p.sequence,
                    transport="smtp",
                    result="sending",
                    state="sending",
                    claim=p.claim,
                    claimed_at=datetime.now(UTC) - timedelta(minutes=minutes),
                )
            )
    assert Settings.from_env().lease == lease
    taken_up = outgoing.recover(factory, lease)
    assert len(taken_up) == 1  # the one past the lease; the other may still be on its way

    def compose(db, row, _now):
        return invites.compose_row(db, row, config)

    with SmtpServer() as server:
        assert outgoing.deliver(factory, taken_up[0], compose, Smtp(server.url)) == "delivered"
        assert outgoing.deliver(factory, taken_up[0], compose, Smtp(server.url)) == "skipped"
        outcomes = send(factory, set_id, config, Smtp(server.url))
    assert sum(o.delivered for o in outcomes) == 10 and sum(o.skipped for o in outcomes) == 1
    assert len(server.recorder.messages) == 11
    assert [str(m["To"]) for m in server.recorder.messages].count(str(first.member.email)) <= 1
    row = factory().get(SentInvite, taken_up[0])
    assert row.state == "delivered" and row.attempts == 1 and row.email == first.member.email


def test_two_web_sends_at_once_deliver_each_message_once(env, monkeypatch):
    from toolkit.web import create_app

    from .conftest import add_user, sign_in
    from .test_sets_web import make_set, text

    with SmtpServer() as server:
        monkeypatch.setenv("TOOLKIT_SMTP_URL", server.url)
        app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False})
        email = add_user(app)
        clients = [app.test_client(), app.test_client()]
        for client in clients:
            sign_in(client, email)
        make_set(clients[0], first="2037-02-12")  # 6 members x 6 sessions: 36 owed
        barrier = threading.Barrier(2)
        work_out = invites.pending_invites

        def owed_then_wait(*args, **kwargs):  # both requests have the 36 before either queues
            found = work_out(*args, **kwargs)
            barrier.wait(timeout=30)
            return found

        monkeypatch.setattr(invites, "pending_invites", owed_then_wait)
        where: list[str] = ["", ""]

        def post(i: int) -> None:
            where[i] = clients[i].post("/sets/set-a/invites/send").headers["Location"]

        threads = [threading.Thread(target=post, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        monkeypatch.setattr(invites, "pending_invites", work_out)
        app.extensions["toolkit"].queue.burst()
        pages = [" ".join(re.sub(r"<[^>]+>", " ", text(clients[0].get(w))).split()) for w in where]
    assert len(server.recorder.messages) == 36  # not 72
    assert where[0] != where[1]  # two sends, each with its own progress page
    shown = [p.count("Delivered") for p in pages]
    assert sum(shown) == 36  # each message on exactly one of the two pages
    assert "could not be delivered" not in pages[0] + pages[1]


def _delete(factory, set_id: int, index: int, now: datetime = NOW) -> tuple[int, bool]:
    with database.transaction(factory) as db:
        meeting = sets.meetings_in_order(db.get(LearningSet, set_id))[index]
        return meeting.id, sets.delete_meeting(db, meeting, now=now)


def test_deleted_session_is_cancelled_with_the_same_uid_then_purged(factory, set_id, config):
    with SmtpServer() as server:
        send(factory, set_id, config, Smtp(server.url))
        deleted_id, kept = _delete(factory, set_id, 1)
        assert kept  # 4 members hold its invitation
        db = factory()
        s = db.get(LearningSet, set_id)
        assert [m.id for m in s.deleted_meetings] == [deleted_id] and len(s.meetings) == 2
        assert [sets.meeting_number(m) for m in sets.meetings_in_order(s)] == [1, 2]
        feed = Calendar.from_ical(invites.feed(s, config))
        assert len(feed.walk("VEVENT")) == 2  # subscribed calendars drop it
        pending = owed(factory, set_id)
        assert len(pending) == 4
        assert {(p.method, p.sequence, p.reason) for p in pending} == {("CANCEL", 1, "deleted")}
        send(factory, set_id, config, Smtp(server.url))
        assert owed(factory, set_id) == []
    request, cancel = server.recorder.messages[4], server.recorder.messages[12]
    assert len(server.recorder.messages) == 16
    assert cancel["Subject"].startswith("Cancelled: Set A, session 2 of 3: Action learning,")
    assert cancel["Subject"].endswith("Thu 25 Mar 2027, 14:00 to 17:15")
    part = calendar_part(cancel)
    assert part.get_param("method") == "CANCEL"
    old = Calendar.from_ical(calendar_part(request).get_payload(decode=True)).walk("VEVENT")[0]
    new = Calendar.from_ical(part.get_payload(decode=True)).walk("VEVENT")[0]
    assert new["UID"] == old["UID"] and new["SEQUENCE"] == old["SEQUENCE"] + 1 == 1
    assert new["STATUS"] == "CANCELLED"
    db = factory()
    assert db.get(Meeting, deleted_id) is None  # purged once every cancellation was delivered
    assert db.scalars(select(SentInvite).where(SentInvite.meeting_id == deleted_id)).all() == []
    assert len(db.get(LearningSet, set_id).meetings) == 2


def test_deleted_session_stays_until_every_invited_member_has_the_cancel(factory, set_id, config):
    with SmtpServer() as server:
        send(factory, set_id, config, Smtp(server.url))
        deleted_id, _kept = _delete(factory, set_id, 2)
        server.recorder.reject = {"amara@example.nhs.uk"}
        send(factory, set_id, config, Smtp(server.url))
        assert factory().get(Meeting, deleted_id) is not None  # Amara is still owed hers
        assert [p.member.email for p in owed(factory, set_id)] == ["amara@example.nhs.uk"]
        server.recorder.reject = set()
        send(factory, set_id, config, Smtp(server.url))
    assert factory().get(Meeting, deleted_id) is None
    assert len(server.recorder.messages) == 16


def test_deleting_a_session_nobody_holds_deletes_it_outright(factory, set_id, config, tmp_path):
    first_id, kept = _delete(factory, set_id, 0)  # nothing sent yet
    assert not kept and factory().get(Meeting, first_id) is None
    send(factory, set_id, config, Outbox(tmp_path))
    ended_id, kept = _delete(factory, set_id, 0, now=datetime(2027, 4, 1, tzinfo=UTC))
    assert not kept and factory().get(Meeting, ended_id) is None  # over: no cancellation owed
    with database.transaction(factory) as db:
        last = sets.meetings_in_order(db.get(LearningSet, set_id))[0]
        sets.set_status(db, last, "cancelled")
    send(factory, set_id, config, Outbox(tmp_path))  # its cancellations go out
    last_id, kept = _delete(factory, set_id, 0)
    assert not kept and factory().get(Meeting, last_id) is None
    assert owed(factory, set_id) == []


def test_a_deleted_session_frees_its_time_and_key(factory, set_id, config, tmp_path):
    send(factory, set_id, config, Outbox(tmp_path))
    with database.transaction(factory) as db:
        s = db.get(LearningSet, set_id)
        second = sets.meetings_in_order(s)[1]
        start, key = second.starts_at, second.key
        sets.delete_meeting(db, second, now=NOW)
        template = load_session_templates(REPO_ROOT / "session_templates")["action-learning-set"]
        again = sets.add_meeting(db, s, start, template, key=key)
        assert again.uid != second.uid and second.key != key
    pending = owed(factory, set_id)
    assert len(pending) == 8  # cancel the old session, invite to the new one at the same time
    assert {(p.reason, p.method) for p in pending} == {("deleted", "CANCEL"), ("new", "REQUEST")}


def test_cli_reports_a_message_another_send_has_and_does_not_fail(
    runner, factory, config, monkeypatch
):
    from toolkit.cli import main

    templates = load_session_templates(REPO_ROOT / "session_templates")
    with database.transaction(factory) as db:
        owner = create_user(db, "fac@example.org", None, "Dr Siobhán O'Neil")
        s = sets.create_set(db, owner, "set-b", "Set B")
        for name, email in MEMBERS:
            sets.add_member(db, s, name, email, "FY2")
        start = local_start(date(2037, 2, 12), time(14, 0), "Europe/London")
        sets.add_series(db, s, start, 6, 2, templates["action-learning-set"])
        first = invites.pending_invites(db, s)[0]
        db.add(  # another send claimed it a moment ago and is sending it now
            SentInvite(
                meeting_id=first.meeting.id,
                member_id=first.member.id,
                email=first.member.email,
                method=first.method,
                sequence=first.sequence,
                transport="smtp",
                result="sending",
                claim=first.claim,
            )
        )
    with SmtpServer() as server:
        monkeypatch.setenv("TOOLKIT_SMTP_URL", server.url)
        result = runner.invoke(main, ["invites", "set-b", "--send"])
    assert result.exit_code == 0, result.output
    assert re.search(r"^skip REQUEST seq 0 +zoe@example.nhs.uk .*another send", result.output, re.M)
    assert "7 delivered, 0 failed, 1 left to another send already sending them" in result.output
    assert len(server.recorder.messages) == 7


def test_an_attached_case_is_never_named_in_invites_or_the_feed(factory, set_id, config):
    """Attaching a case adds its timed block; calendars show it only as a case discussion."""
    from toolkit.casebank import load_bank

    bank = load_bank(REPO_ROOT / "casebank")
    case = bank.cases["the-stalled-sepsis-project"]
    with database.transaction(factory) as db:
        meeting = sets.meetings_in_order(db.get(LearningSet, set_id))[0]
        sets.attach(db, meeting, bank, case_id=case.id)
        assert any(b.title == f"Case: {case.title}" for b in meeting.blocks)
    with factory() as db:
        learning_set = db.get(LearningSet, set_id)
        text = invites.describe(sets.meetings_in_order(learning_set)[0])
        feed = invites.feed(learning_set, config).decode()
    assert "Case discussion" in text and case.title not in text
    assert case.title.split()[1] not in feed.replace("\r\n ", "")


def _sent(folder) -> list[tuple[str, Calendar]]:
    """(file name, calendar) of every message written to the outbox folder, by name."""
    found = []
    for path in sorted(folder.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=default)
        found.append(
            (path.name, Calendar.from_ical(calendar_part(message).get_payload(decode=True)))
        )
    return found


FIRST_DESCRIPTION = """Set A, session 1
Thu 11 Feb 2027, 14:00 to 17:15 (Europe/London time)
Where: Seminar Room 2
Video link: https://teams.example/meet/set-a

Agenda:
14:00 Check-in
14:15 Ground rules
14:20 Review of actions
14:40 Bidding for airtime
14:45 Presenter round 1
15:25 Presenter round 2
16:05 Presenter round 3
16:45 Break
16:55 Process review
17:05 Close and next date"""


def test_every_property_of_an_emailed_invite(factory, set_id, config, tmp_path):
    """DTSTART, DTEND, SUMMARY, LOCATION, URL and the DESCRIPTION, line by line, with no
    member's name, no facilitator note and no facilitator-only block anywhere in it."""
    with database.transaction(factory) as db:
        first = sets.meetings_in_order(db.get(LearningSet, set_id))[0]
        sets.add_block(db, first, "Facilitators' debrief", "input", 15, "Who needs a call?", False)
    send(factory, set_id, config, Outbox(tmp_path))
    by_session = {}
    for name, cal in _sent(tmp_path):
        by_session.setdefault(name.split("-")[1], []).append(cal)
    assert sorted(by_session) == ["1", "2", "3"] and all(len(c) == 4 for c in by_session.values())
    db = factory()
    notes = [b.notes for m in db.get(LearningSet, set_id).meetings for b in m.blocks if b.notes]
    assert len(notes) > 20
    for number, day in (("1", 11), ("2", 25), ("3", 6)):
        for cal in by_session[number]:
            (event,) = cal.walk("VEVENT")
            start, end = event["DTSTART"].dt, event["DTEND"].dt
            assert (start.month, start.day, start.hour, start.minute) == (
                {"1": 2, "2": 3, "3": 5}[number],
                day,
                14,
                0,
            )
            assert str(start.tzinfo) == "Europe/London" and event["DTSTART"].params["TZID"]
            assert end - start == timedelta(minutes=195)  # the debrief over-runs; it is flagged
            title = sets.meetings_in_order(db.get(LearningSet, set_id))[int(number) - 1].title
            assert event["SUMMARY"] == f"Set A: session {number}, {title}"
            assert event["LOCATION"] == "Seminar Room 2"
            assert event["URL"] == "https://teams.example/meet/set-a"
            description = str(event["DESCRIPTION"])
            whole = cal.to_ical().decode()
            for member, email in MEMBERS:
                assert member not in description
                if f"mailto:{email}" != str(event["ATTENDEE"]):
                    assert member not in whole and email not in whole
            for note in notes:
                assert note[:40] not in description
            assert "debrief" not in description
    first_description = str(by_session["1"][0].walk("VEVENT")[0]["DESCRIPTION"])
    assert first_description == FIRST_DESCRIPTION


def test_every_cancellation_says_cancelled_also_to_removed_members(
    factory, set_id, config, tmp_path
):
    """Removed members, a cancelled session and a deleted one: every CANCEL, in every message,
    is STATUS:CANCELLED with the session's own UID and a SEQUENCE above the invite's."""
    send(factory, set_id, config, Outbox(tmp_path / "first"))
    with database.transaction(factory) as db:
        s = db.get(LearningSet, set_id)
        sets.remove_member(db, next(m for m in s.members if m.email == "zoe@example.nhs.uk"))
        sets.set_status(db, sets.meetings_in_order(s)[1], "cancelled")
    send(factory, set_id, config, Outbox(tmp_path / "second"))
    sent = _sent(tmp_path / "second")
    reasons = sorted(name.split("-cancel-")[0] for name, _cal in sent)
    assert reasons == [
        "session-1-zoe-example-nhs-uk",
        "session-2-amara-example-nhs-uk",
        "session-2-lukasz-example-nhs-uk",
        "session-2-siobhan-example-nhs-uk",
        "session-2-zoe-example-nhs-uk",
        "session-3-zoe-example-nhs-uk",
    ]
    uids = {name.split("-")[1]: c.walk("VEVENT")[0]["UID"] for name, c in _sent(tmp_path / "first")}
    for name, cal in sent:
        (event,) = cal.walk("VEVENT")
        assert cal["METHOD"] == "CANCEL" and event["STATUS"] == "CANCELLED", name
        assert event["UID"] == uids[name.split("-")[1]] and event["SEQUENCE"] == 1, name
        assert event.walk("VALARM") == [] and event["ATTENDEE"].params["RSVP"] == "FALSE"
        who = str(event["ATTENDEE"]).removeprefix("mailto:")
        assert who == name.split("-")[2] + "@example.nhs.uk", name
