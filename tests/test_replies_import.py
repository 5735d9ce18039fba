"""Calendar replies (iTIP REPLY) read from e-mails, .ics files and mboxes, in the shapes Outlook,
Google Calendar and Apple Calendar send, matched to the invites really delivered."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from toolkit import db as database
from toolkit import invites, replies, sets
from toolkit.accounts import create_user
from toolkit.config import REPO_ROOT, Settings
from toolkit.mail import Outbox
from toolkit.models import LearningSet, Rsvp, User
from toolkit.planning import local_start
from toolkit.replies.itip import MAX_MESSAGE, address
from toolkit.session_templates import load_session_templates

from .conftest import DATA, add_user, sign_in

REPLIES = DATA / "replies"
HOST = "learning-sets.example.nhs.uk"
UIDS = [f"5d0c3e7a9b1f4c2e8a6d{n:012d}" for n in (1, 2, 3)]
MEMBERS = [
    ("Zoë Marsh", "zoe@example.nhs.uk"),
    ("Łukasz Nowak", "lukasz@example.nhs.uk"),
    ("Siobhán O'Brien", "siobhan@example.nhs.uk"),
    ("Amara Okafor", "amara@example.nhs.uk"),
]
SENT = datetime(2027, 1, 1, tzinfo=UTC)
NOW = datetime(2027, 1, 20, tzinfo=UTC)  # replies are read before session 1 (11 Feb)


@pytest.fixture(autouse=True)
def _our_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLKIT_BASE_URL", f"https://{HOST}")


@pytest.fixture
def factory(env: Settings):
    return database.session_factory(database.make_engine(env.database_url))


def _send(factory, set_id: int, config, outbox: Path) -> None:
    with factory() as db:
        owed = invites.pending_invites(db, db.get(LearningSet, set_id), now=SENT)
        outcomes = invites.send_pending(factory, owed, config, Outbox(outbox), delays=())
    assert outcomes and all(o.delivered for o in outcomes)


@pytest.fixture
def set_id(factory, env: Settings, tmp_path: Path) -> int:
    """Set A: 4 members invited to 3 sessions (11 Feb, 25 Mar, 6 May 2027 at 14:00); session 2
    then moved to 15:00 and re-sent as SEQUENCE 1; Priya joined afterwards, never invited."""
    templates = load_session_templates(REPO_ROOT / "session_templates")
    with database.transaction(factory) as db:
        owner = db.scalar(select(User).where(User.email == "fac@example.org"))
        owner = owner or create_user(db, "fac@example.org", None, "Dr Siobhán O'Neil")
        s = sets.create_set(db, owner, "set-a", "Set A", venue="Seminar Room 2")
        for name, email in MEMBERS:
            sets.add_member(db, s, name, email, "FY2")
        start = local_start(date(2027, 2, 11), time(14, 0), "Europe/London")
        sets.add_series(db, s, start, 6, 3, templates["action-learning-set"])
        for meeting, uid in zip(s.meetings, UIDS, strict=True):
            meeting.uid = uid
        set_id = s.id
    config = invites.InviteSettings.from_settings(env)
    _send(factory, set_id, config, tmp_path / "outbox")
    with database.transaction(factory) as db:
        s = db.get(LearningSet, set_id)
        second = s.meetings[1]
        sets.change_meeting(db, second, start=second.starts_at + timedelta(hours=1), now=SENT)
    _send(factory, set_id, config, tmp_path / "outbox")
    with database.transaction(factory) as db:
        sets.add_member(db, db.get(LearningSet, set_id), "Priya Shah", "priya@example.nhs.uk")
    return set_id


def _import(factory, *names: str) -> list[replies.Outcome]:
    found = [item for name in names for item in replies.read_path(REPLIES / name)]
    return replies.import_replies(factory, found, HOST, NOW)


def _details(outcomes: list[replies.Outcome]) -> dict[str, str]:
    return {Path(o.label).name: o.detail for o in outcomes}


def _rsvps(factory, set_id: int) -> dict[tuple[int, str], Rsvp]:
    """Every reply recorded, by (session number, member e-mail)."""
    with factory() as db:
        s = db.get(LearningSet, set_id)
        emails = {m.id: m.email for m in s.members}
        return {
            (n, emails[r.member_id]): r
            for n, meeting in enumerate(sets.meetings_in_order(s), start=1)
            for r in meeting.rsvps
        }


def test_outlook_google_apple_thunderbird_and_forwarded_replies_are_recorded(factory, set_id):
    outcomes = _import(
        factory,
        "outlook-accepted.eml",
        "google-declined.eml",
        "apple-accepted-comment.eml",
        "tentative.ics",
        "forwarded.eml",
    )
    assert [o.accepted for o in outcomes] == [True] * 5, [str(o) for o in outcomes]
    assert _details(outcomes) == {
        "outlook-accepted.eml": "accepted from zoe@example.nhs.uk for session 2 (attending)",
        "google-declined.eml": "accepted from lukasz@example.nhs.uk for session 2 (apologies)",
        "apple-accepted-comment.eml": (
            "accepted from siobhan@example.nhs.uk for session 3 (attending)"
        ),
        "tentative.ics": "accepted from amara@example.nhs.uk for session 1 (tentative)",
        "forwarded.eml": "accepted from amara@example.nhs.uk for session 3 (apologies)",
    }
    assert str(outcomes[0]).endswith(
        "outlook-accepted.eml: accepted from zoe@example.nhs.uk for session 2 (attending)"
    )
    got = _rsvps(factory, set_id)
    zoe = got[(2, "zoe@example.nhs.uk")]
    assert (zoe.status, zoe.source, zoe.sequence, zoe.note) == ("attending", "calendar", 1, "")
    assert zoe.replied_at == datetime(2027, 1, 4, 8, 31, 12, tzinfo=UTC)  # its DTSTAMP
    # Google carries the guest's note as X-RESPONSE-COMMENT; Apple and Thunderbird as COMMENT
    assert got[(2, "lukasz@example.nhs.uk")].note.startswith("On nights that week, sorry.")
    assert got[(3, "siobhan@example.nhs.uk")].note == (
        "I'm on a half day that Thursday, so may be ten minutes late from the fracture clinic."
    )
    assert got[(1, "amara@example.nhs.uk")].note.startswith("Waiting to hear")
    with factory() as db:
        s = db.get(LearningSet, set_id)
        second = s.meetings[1]
        lukasz = next(m for m in s.members if m.email == "lukasz@example.nhs.uk")
        assert sets.apologies(second) == {lukasz.id}  # the register has the apologies
        assert lukasz.id not in sets.proposed_presenters(second, 5)  # and the rota skips him
        assert str(replies.summary(second)) == "1 coming, 1 apologies, 3 not answered"


def test_replies_that_do_not_answer_an_invite_we_sent_are_refused_and_write_nothing(
    factory, set_id
):
    outcomes = _import(
        factory,
        "wrong-uid.eml",
        "wrong-attendee.ics",
        "not-invited.ics",
        "stale-sequence.eml",
        "request-not-reply.ics",
    )
    assert not any(o.accepted for o in outcomes)
    details = _details(outcomes)
    assert details["wrong-uid.eml"] == (
        "refused: the event 040000008200E00074C5B7101A82E00800000000A0F2E31B6A5EDB01000000000000"
        f"00001000000086C1B3A44F0D2B4C9E3A5D7F1E2C6B80 is not a session invited from {HOST}"
    )
    assert details["wrong-attendee.ics"] == (
        "refused: jo.bloggs@example.com is not a member of Set A"
    )
    assert details["not-invited.ics"] == (
        "refused: priya@example.nhs.uk was never sent an invite to session 1"
    )
    assert details["stale-sequence.eml"].startswith(
        "refused: out of date: it answers version 0 of the invite to session 2, and "
        "amara@example.nhs.uk has since been sent version 1"
    )
    assert details["request-not-reply.ics"].startswith(
        "refused: a METHOD:REQUEST message is not an answer"
    )
    assert _rsvps(factory, set_id) == {}
    with factory() as db:
        assert all(m.attendance == [] for m in db.get(LearningSet, set_id).meetings)


def test_an_mbox_gives_one_outcome_per_message_and_the_latest_answer_wins(factory, set_id):
    outcomes = _import(factory, "several.mbox")
    assert [(o.label.rsplit(", ", 1)[1], o.accepted) for o in outcomes] == [
        ("message 1", True),
        ("message 2", False),
        ("message 3", True),
        ("message 4", True),
    ]
    assert outcomes[1].detail == ("refused: no calendar in it (no text/calendar part or .ics file)")
    got = _rsvps(factory, set_id)
    zoe = got[(3, "zoe@example.nhs.uk")]  # tentative first, then accepted after all
    assert (zoe.status, zoe.note) == ("attending", "Swapped my on-call, so I can come after all.")
    assert got[(1, "amara@example.nhs.uk")].status == "attending"
    # read again: the same answers change nothing, and the older one cannot undo the newer
    again = _import(factory, "several.mbox")
    assert [o.accepted for o in again] == [False, False, True, True]
    assert again[0].detail == (
        "refused: older than the answer zoe@example.nhs.uk gave on 11 Jan 2027 at 19:05 UTC, "
        "which stands"
    )
    assert _rsvps(factory, set_id)[(3, "zoe@example.nhs.uk")].status == "attending"
    assert len(_rsvps(factory, set_id)) == 2


def test_a_reply_to_an_invite_since_cancelled_is_refused(factory, set_id, env, tmp_path):
    with database.transaction(factory) as db:
        sets.set_status(db, db.get(LearningSet, set_id).meetings[2], "cancelled")
    _send(factory, set_id, invites.InviteSettings.from_settings(env), tmp_path / "outbox")
    details = _details(_import(factory, "apple-accepted-comment.eml"))
    assert details["apple-accepted-comment.eml"] == (
        "refused: siobhan@example.nhs.uk's invite to session 3 was withdrawn (cancelled)"
    )


def test_a_reply_read_after_the_session_started_is_refused(factory, set_id):
    found = replies.read_path(REPLIES / "tentative.ics")
    late = datetime(2027, 2, 11, 15, 0, tzinfo=UTC)
    (outcome,) = replies.import_replies(factory, found, HOST, late)
    assert outcome.detail == (
        "refused: The session has started: the register is the record of who came now."
    )


def test_files_that_hold_no_reply_are_reported_not_raised(tmp_path):
    garbage = tmp_path / "garbage.ics"
    garbage.write_bytes(b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:not-a-date\r\n")
    (found,) = replies.read_path(garbage)
    assert found.reply is None and found.problem.startswith("not a calendar that can be read")
    (missing,) = replies.read_path(tmp_path / "missing.eml")
    assert missing.problem.startswith("cannot read it")
    big = tmp_path / "big.eml"
    big.write_bytes(b"Subject: x\r\n\r\n" + b"x" * MAX_MESSAGE)
    assert replies.read_path(big)[0].problem == "larger than 10 MB: not a reply"
    (empty,) = replies.read_upload("empty.mbox", b"From nobody\n")
    assert empty.reply is None


def test_uploaded_mbox_is_read_like_the_file():
    data = (REPLIES / "several.mbox").read_bytes()
    found = replies.read_upload("several.mbox", data)
    assert [f.label for f in found] == [f"several.mbox, message {n}" for n in (1, 2, 3, 4)]
    assert found[3].reply.comment == "Swapped my on-call, so I can come after all."


def test_attendee_addresses_lose_mailto_in_any_case():
    assert address("MAILTO:Siobhan@Example.NHS.uk") == "siobhan@example.nhs.uk"
    assert address("mailto:zoe@example.nhs.uk") == "zoe@example.nhs.uk"
    assert address("Mailto: amara@example.nhs.uk ") == "amara@example.nhs.uk"


def test_cli_reports_each_file_and_fails_when_any_is_refused(runner, factory, set_id):
    from toolkit.cli import main

    files = [str(REPLIES / n) for n in ("outlook-accepted.eml", "wrong-uid.eml", "several.mbox")]
    result = runner.invoke(main, ["replies", "import", *files])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0] == (f"{files[0]}: accepted from zoe@example.nhs.uk for session 2 (attending)")
    assert lines[1].startswith(f"{files[1]}: refused: the event 0400000082")
    assert lines[2] == (
        f"{files[2]}, message 1: accepted from zoe@example.nhs.uk for session 3 (tentative)"
    )
    assert lines[3] == f"{files[2]}, message 2: refused: no calendar in it " + (
        "(no text/calendar part or .ics file)"
    )
    assert lines[-1] == "4 accepted, 2 refused"
    good = runner.invoke(main, ["replies", "import", str(REPLIES / "google-declined.eml")])
    assert good.exit_code == 0 and good.output.endswith("1 accepted, 0 refused\n")
    missing = runner.invoke(main, ["replies", "import", "nowhere.eml"])
    assert missing.exit_code == 1 and "nowhere.eml: refused: cannot read it" in missing.output
    assert runner.invoke(main, ["replies", "import"]).exit_code == 2  # a file is required
    with factory() as db:
        assert len(db.scalars(select(Rsvp)).all()) == 4


def _upload(client, slug: str, *names: str):
    files = [((REPLIES / name).open("rb"), name) for name in names]
    try:
        return client.post(
            f"/sets/{slug}/replies", data={"files": files}, content_type="multipart/form-data"
        )
    finally:
        for handle, _name in files:
            handle.close()


def _words(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html.unescape(response.text)).split())


def test_set_page_upload_records_replies_and_lists_each_outcome(signed_in, factory, set_id):
    page = signed_in.get("/sets/set-a").text  # its form posts here, the files as "files"
    assert 'action="/sets/set-a/replies"' in page and 'name="files"' in page
    assert 'enctype="multipart/form-data"' in page and "Read the replies" in page
    response = _upload(signed_in, "set-a", "outlook-accepted.eml", "several.mbox", "wrong-uid.eml")
    assert response.status_code == 200
    results = _words(response)
    assert "4 of 6 replies recorded" in results
    assert (
        "outlook-accepted.eml Recorded accepted from zoe@example.nhs.uk for session 2 (attending)"
    ) in results
    assert "several.mbox, message 2 Refused refused: no calendar in it" in results
    assert "wrong-uid.eml Refused refused: the event 0400000082" in results
    assert "Session 3 (Thu 6 May 2027, 14:00 to 17:15): 1 coming, 0 apologies, 4 not" in results
    so_far = _words(signed_in.get("/sets/set-a/replies"))
    assert "Session 2 (Thu 25 Mar 2027, 15:00 to 18:15): 1 coming, 0 apologies, 4 not" in so_far
    assert len(_rsvps(factory, set_id)) == 3


def test_an_upload_needs_a_file(signed_in, set_id):
    response = signed_in.post("/sets/set-a/replies", data={}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "Choose at least one e-mail, .ics or mbox file" in _words(response)


def test_a_set_page_records_only_its_own_sessions_replies(signed_in, factory, set_id):
    with database.transaction(factory) as db:
        owner = db.scalar(select(User).where(User.email == "fac@example.org"))
        sets.create_set(db, owner, "set-b", "Set B")
    response = _upload(signed_in, "set-b", "outlook-accepted.eml")
    assert "0 of 1 reply recorded" in _words(response)
    assert (
        "refused: the event session-5d0c3e7a9b1f4c2e8a6d000000000002@"
        f"{HOST} is not a session of Set B"
    ) in _words(response)
    assert _rsvps(factory, set_id) == {}


def test_another_facilitator_cannot_reach_the_upload(app, client, set_id):
    sign_in(client, add_user(app, "other@example.org"))
    assert client.get("/sets/set-a/replies").status_code == 404
    assert _upload(client, "set-a", "outlook-accepted.eml").status_code == 404
