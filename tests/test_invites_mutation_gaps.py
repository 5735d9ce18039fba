"""Invites: behaviour no test pinned until mutation testing (scripts/mutation.py)."""

# ruff: noqa: F811 (the fixtures imported from test_invites are used as parameters)
from __future__ import annotations

from datetime import date, time, timedelta
from email import message_from_bytes
from email.policy import default

from icalendar import Calendar

from toolkit import db as database
from toolkit import invites, sets
from toolkit.accounts import create_user
from toolkit.casebank import load_bank
from toolkit.config import REPO_ROOT, Settings
from toolkit.jobs.outgoing import Drop
from toolkit.mail import Outbox, Smtp
from toolkit.models import LearningSet, Meeting, SentInvite
from toolkit.planning import local_start
from toolkit.session_templates import load_session_templates
from toolkit.setfile import export_set, import_file

from .smtp_server import SmtpServer
from .test_invites import (  # noqa: F401 (fixtures)
    NOW,
    _close_sessions,
    _sent,
    config,
    factory,
    owed,
    send,
    set_id,
)

TEMPLATES = load_session_templates(REPO_ROOT / "session_templates")


def _other_set(sessions, slug: str = "set-b") -> int:
    """A second set, with its own member, sessions and facilitator."""
    with database.transaction(sessions) as db:
        owner = create_user(db, f"{slug}@example.org", None, "Dr Other")
        s = sets.create_set(db, owner, slug, "Set B", venue="Library")
        sets.add_member(db, s, "Priya Shah", "priya@example.nhs.uk", "ST3")
        start = local_start(date(2027, 3, 4), time(10, 0), "Europe/London")
        sets.add_series(db, s, start, 4, 2, TEMPLATES["action-learning-set"])
        return s.id


def test_a_member_taken_back_is_invited_above_their_cancel(factory, set_id, config, tmp_path):
    """Removed (so sent a cancellation at SEQUENCE 1), then listed again in the set file: the new
    invite must carry a SEQUENCE above the cancellation, or their calendar ignores it."""
    send(factory, set_id, config, Outbox(tmp_path / "first"))
    with database.transaction(factory) as db:
        s = db.get(LearningSet, set_id)
        sets.remove_member(db, next(m for m in s.members if m.email == "zoe@example.nhs.uk"))
    send(factory, set_id, config, Outbox(tmp_path / "removed"))
    cancels = _sent(tmp_path / "removed")
    assert len(cancels) == 3
    assert all(c.walk("VEVENT")[0]["SEQUENCE"] == 1 for _n, c in cancels)
    with factory() as db:
        text = export_set(db.get(LearningSet, set_id))
    assert "active: false" in text
    path = tmp_path / "set.yaml"
    path.write_text(text.replace("active: false", "active: true"), "utf-8")
    bank = load_bank(REPO_ROOT / "casebank")
    import_file(factory, path, bank, TEMPLATES)
    pending = owed(factory, set_id)
    assert {(p.member.email, p.method, p.sequence, p.reason) for p in pending} == {
        ("zoe@example.nhs.uk", "REQUEST", 2, "restored")
    }
    send(factory, set_id, config, Outbox(tmp_path / "back"))
    back = _sent(tmp_path / "back")
    assert len(back) == 3
    for name, cal in back:
        (event,) = cal.walk("VEVENT")
        assert cal["METHOD"] == "REQUEST" and event["STATUS"] == "CONFIRMED", name
        assert event["SEQUENCE"] == 2, name


def test_the_send_log_holds_only_the_sets_own_newest_first(factory, set_id, config, tmp_path):
    other = _other_set(factory)
    send(factory, set_id, config, Outbox(tmp_path / "a"))
    send(factory, other, config, Outbox(tmp_path / "b"))
    with database.transaction(factory) as db:
        sets.set_status(db, sets.meetings_in_order(db.get(LearningSet, set_id))[0], "cancelled")
    send(factory, set_id, config, Outbox(tmp_path / "a2"))
    with factory() as db:
        log = invites.send_log(db, db.get(LearningSet, set_id))
        other_log = invites.send_log(db, db.get(LearningSet, other))
        emails = {row.email for row in log}
        ids = [row.id for row in log]
        first_methods = [row.method for row in log[:4]]
        other_emails = {row.email for row in other_log}
    assert len(log) == 12 + 4 and "priya@example.nhs.uk" not in emails
    assert other_emails == {"priya@example.nhs.uk"} and len(other_log) == 2
    assert ids == sorted(ids, reverse=True)
    assert first_methods == ["CANCEL"] * 4  # the cancellations went last, so they come first


def test_a_set_with_no_sessions_serves_a_feed_last_modified_when_it_was_made(factory, config):
    with database.transaction(factory) as db:
        owner = create_user(db, "empty@example.org", None, "Dr Empty")
        s = sets.create_set(db, owner, "empty", "Empty set")
        set_id = s.id
    with factory() as db:
        learning_set = db.get(LearningSet, set_id)
        published = invites.published_feed(learning_set, config)
        created = learning_set.created_at
    cal = Calendar.from_ical(published.body)
    assert cal.walk("VEVENT") == []
    assert published.last_modified == created.replace(microsecond=0)


def test_the_send_log_says_whether_a_message_went_to_the_outbox_or_the_server(
    factory, set_id, config, tmp_path
):
    with SmtpServer() as server:
        send(factory, set_id, config, Smtp(server.url))
    with database.transaction(factory) as db:
        sets.set_status(db, sets.meetings_in_order(db.get(LearningSet, set_id))[2], "cancelled")
    send(factory, set_id, config, Outbox(tmp_path))
    with factory() as db:
        log = invites.send_log(db, db.get(LearningSet, set_id))
        kinds = {(row.method, row.transport) for row in log}
    assert kinds == {("REQUEST", "smtp"), ("CANCEL", "outbox")}


def test_a_deleted_session_is_purged_the_moment_it_would_have_ended(
    factory, set_id, config, tmp_path
):
    """Once a session has ended nobody is owed its cancellation (they are not sent for the past),
    so its deleted row must go then, not linger forever."""
    send(factory, set_id, config, Outbox(tmp_path))
    with database.transaction(factory) as db:
        meeting = sets.meetings_in_order(db.get(LearningSet, set_id))[1]
        deleted_id = meeting.id
        assert sets.delete_meeting(db, meeting, now=NOW)  # four members hold its invitation
    with database.transaction(factory) as db:
        learning_set = db.get(LearningSet, set_id)
        (deleted,) = learning_set.deleted_meetings
        end = sets.end_time(deleted)
        assert invites.purge_deleted(db, learning_set, now=end - timedelta(seconds=1)) == 0
        assert invites.purge_deleted(db, learning_set, now=end) == 1
    with factory() as db:
        assert db.get(Meeting, deleted_id) is None


def test_a_moved_sessions_update_is_sent_once(factory, set_id, config, tmp_path):
    """The send log records the SEQUENCE each member now holds, so once the update has gone
    nothing more is owed for the move (and a resend sends that same update again)."""
    send(factory, set_id, config, Outbox(tmp_path / "first"))
    with database.transaction(factory) as db:
        second = sets.meetings_in_order(db.get(LearningSet, set_id))[1]
        sets.change_meeting(db, second, start=second.starts_at + timedelta(days=1))
    updates = send(factory, set_id, config, Outbox(tmp_path / "update"))
    assert [(o.pending.method, o.pending.sequence, o.delivered) for o in updates] == [
        ("REQUEST", 1, True)
    ] * 4
    assert owed(factory, set_id) == []
    with factory() as db:
        log = invites.send_log(db, db.get(LearningSet, set_id))
        assert [row.sequence for row in log[:4]] == [1, 1, 1, 1]
    again = owed(factory, set_id, resend=True)
    assert {(p.meeting.id, p.sequence, p.reason) for p in again if p.sequence} == {
        (updates[0].pending.meeting.id, 1, "resent")
    }


def test_a_queued_invite_whose_session_is_gone_is_dropped_saying_why(factory, set_id, config):
    """A worker can take up a queued invite after its session was deleted for good: it must
    drop it with a reason the send log can show, not fail or send something stale."""
    with factory() as db:
        row = SentInvite(meeting_id=10_000, member_id=None, email="zoe@example.nhs.uk")
        made = invites.compose_row(db, row, config)
    assert isinstance(made, Drop) and made.reason == "the session has been deleted"


def test_a_queued_invite_no_longer_owed_is_dropped_pointing_to_the_invites_page(
    factory, set_id, config
):
    with database.transaction(factory) as db:
        first = sets.meetings_in_order(db.get(LearningSet, set_id))[0]
        pending = invites.pending_invites(db, first.learning_set, only=first, now=NOW)[0]
        row = SentInvite(meeting_id=first.id, member_id=pending.member.id, claim="stale")
        made = invites.compose_row(db, row, config)
    assert isinstance(made, Drop)
    assert made.reason == (
        "the session or the member changed after it was queued; what is owed now "
        "is on the invites page"
    )


def test_outbox_files_name_session_member_method_sequence_and_copy(
    factory, set_id, config, tmp_path
):
    """No two messages share a file: a resend is `-resend-N`, and a deleted session's
    cancellation says `deleted` (the session after it has taken its number)."""
    send(factory, set_id, config, Outbox(tmp_path / "first"))
    names = sorted(p.name for p in (tmp_path / "first").glob("*.eml"))
    assert names[:4] == [
        "session-1-amara-example-nhs-uk-request-0.eml",
        "session-1-lukasz-example-nhs-uk-request-0.eml",
        "session-1-siobhan-example-nhs-uk-request-0.eml",
        "session-1-zoe-example-nhs-uk-request-0.eml",
    ]
    assert len(names) == 12
    with factory() as db:
        first = sets.meetings_in_order(db.get(LearningSet, set_id))[0]
        again = invites.pending_invites(db, first.learning_set, only=first, resend=True, now=NOW)
        invites.send_pending(factory, again, config, Outbox(tmp_path / "again"), delays=(0,))
    resent = sorted(p.name for p in (tmp_path / "again").glob("*.eml"))
    assert resent[-1] == "session-1-zoe-example-nhs-uk-request-0-resend-1.eml"
    assert all(name.endswith("-request-0-resend-1.eml") for name in resent) and len(resent) == 4
    with database.transaction(factory) as db:
        assert sets.delete_meeting(db, sets.meetings_in_order(db.get(LearningSet, set_id))[1], NOW)
    send(factory, set_id, config, Outbox(tmp_path / "deleted"))
    deleted = sorted(p.name for p in (tmp_path / "deleted").glob("*.eml"))
    assert deleted == [
        f"session-2-deleted-{who}-example-nhs-uk-cancel-1.eml"
        for who in ("amara", "lukasz", "siobhan", "zoe")
    ]


def test_an_address_that_makes_no_name_still_gets_a_file_of_its_own(factory, set_id, config):
    with database.transaction(factory) as db:
        s = db.get(LearningSet, set_id)
        sets.add_member(db, s, "Underscore", "_@example.nhs.uk", "FY1")
    pending = [p for p in owed(factory, set_id) if p.member.email.startswith("_")]
    stems = [invites.file_stem(p) for p in pending]
    assert stems[0] == "session-1-example-nhs-uk-request-0"  # never a leading dash
    assert len(set(stems)) == 3


def test_mail_comes_from_the_service_address_in_the_facilitators_name(
    env, factory, set_id, tmp_path, monkeypatch
):
    """TOOLKIT_MAIL_FROM sends, "<facilitator> via Learning sets" shows; the ORGANIZER is the
    facilitator sent by that address, and TOOLKIT_REMINDER_MINUTES sets the alarm."""
    monkeypatch.setenv("TOOLKIT_MAIL_FROM", "sets@deanery.example")
    monkeypatch.setenv("TOOLKIT_REMINDER_MINUTES", "90")
    monkeypatch.setenv("TOOLKIT_BASE_URL", "https://toolkit.deanery.example")
    config = invites.InviteSettings.from_settings(Settings.from_env())
    assert config.sender.name == "Learning sets"
    send(factory, set_id, config, Outbox(tmp_path))
    path = sorted(tmp_path.glob("session-1-zoe-*.eml"))[0]
    message = message_from_bytes(path.read_bytes(), policy=default)
    sender = message["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == (
        "Dr Siobhán O'Neil via Learning sets",
        "sets@deanery.example",
    )
    assert message["Sender"].addresses[0].addr_spec == "sets@deanery.example"
    assert message["Message-ID"].endswith("@toolkit.deanery.example>")
    cal = next(c for n, c in _sent(tmp_path) if n == path.name)
    (event,) = cal.walk("VEVENT")
    assert event["UID"].endswith("@toolkit.deanery.example")
    assert event["ORGANIZER"].params["SENT-BY"] == "mailto:sets@deanery.example"
    assert event["ORGANIZER"].params["CN"] == "Dr Siobhán O'Neil"
    assert event.walk("VALARM")[0]["TRIGGER"].dt == timedelta(minutes=-90)


def test_an_update_greets_the_member_and_says_what_changed_since_their_invite(
    factory, set_id, config, tmp_path
):
    send(factory, set_id, config, Outbox(tmp_path / "first"))
    with database.transaction(factory) as db:
        second = sets.meetings_in_order(db.get(LearningSet, set_id))[1]
        sets.change_meeting(db, second, start=second.starts_at + timedelta(days=1), venue="Lab 4")
    send(factory, set_id, config, Outbox(tmp_path / "update"))
    path = next((tmp_path / "update").glob("session-2-zoe-*.eml"))
    message = message_from_bytes(path.read_bytes(), policy=default)
    body = " ".join(message.get_body(("plain",)).get_content().split())
    assert (
        message["Subject"]
        == "Updated: Set A, session 2 of 3: Action learning, Fri 26 Mar 2027, 14:00 to 17:15"
    )
    assert body.startswith("Dear Zoë,")
    assert "What has changed" in body
    assert "Date: was Thu 25 Mar 2027, now Fri 26 Mar 2027" in body
    assert "Place: was Seminar Room 2, now Lab 4" in body
    assert "Dr Siobhán O'Neil facilitates this set: reply to this e-mail to reach them." in body


def test_with_two_facilitators_every_invite_names_the_same_organizer(factory, config, tmp_path):
    """The ORGANIZER must not change between a session's messages (calendars treat a new one as
    a different meeting): it is the facilitator with the oldest account, whoever made the set."""
    with database.transaction(factory) as db:
        older = create_user(db, "older@example.org", None, "Dr Older")
        newer = create_user(db, "newer@example.org", None, "Dr Newer")
        s = sets.create_set(db, newer, "set-c", "Set C")
        s.facilitators.append(older)
        sets.add_member(db, s, "Priya Shah", "priya@example.nhs.uk", "ST3")
        start = local_start(date(2027, 3, 4), time(10, 0), "Europe/London")
        sets.add_series(db, s, start, 4, 2, TEMPLATES["action-learning-set"])
        set_id = s.id
    assert older.id < newer.id
    outcomes = send(factory, set_id, config, Outbox(tmp_path))
    assert [o.delivered for o in outcomes] == [True, True]
    assert len(_sent(tmp_path)) == 2
    for name, cal in _sent(tmp_path):
        (event,) = cal.walk("VEVENT")
        assert str(event["ORGANIZER"]) == "mailto:older@example.org", name
    for path in tmp_path.glob("*.eml"):
        message = message_from_bytes(path.read_bytes(), policy=default)
        assert message["Reply-To"].addresses[0].addr_spec == "older@example.org"


def test_a_sessions_pre_work_is_in_its_calendar_description_with_the_total_time(
    env, factory, set_id, tmp_path
):
    from toolkit.resources import attach_resource, catalogue

    bank = load_bank(REPO_ROOT / "casebank")
    with database.transaction(factory) as db:
        first = sets.meetings_in_order(db.get(LearningSet, set_id))[0]
        library = catalogue(db, bank)
        chosen = ["healthcare-leadership-model", "the-reflective-practitioner"]
        for resource_id in chosen:
            attach_resource(db, first, library, resource_id, "prework")
    config = invites.InviteSettings.from_settings(env, library)
    send(factory, set_id, config, Outbox(tmp_path))
    cal = next(c for n, c in _sent(tmp_path) if n.startswith("session-1-zoe"))
    description = str(cal.walk("VEVENT")[0]["DESCRIPTION"])
    items = [library[r] for r in chosen]
    total = sum(r.minutes for r in items)
    assert description.startswith("Set A, session 1\nThu 11 Feb 2027, 14:00 to 17:15")
    # the pre-work follows the place and link after a blank line, then the agenda after another
    assert (
        f"Video link: https://teams.example/meet/set-a\n\nPre-work (about {total} min in all):\n"
        in description
    )
    assert f"{items[-1].url}\n\nAgenda:\n14:00 Check-in" in description
    for r in items:
        assert f"- {r.title} ({r.kind}, {r.minutes} min): {r.url}" in description
    later = next(c for n, c in _sent(tmp_path) if n.startswith("session-2-zoe"))
    assert "Pre-work" not in str(later.walk("VEVENT")[0]["DESCRIPTION"])


def test_a_queued_invite_carries_the_members_reply_links_when_they_have_a_page(
    factory, set_id, config
):
    """The queue's composer hands in the member's "I can come" / "I can't come" lines: the
    e-mail must carry them, or the member has no way to answer from it."""
    from toolkit.letters import Section

    asked = []

    def replies(p: invites.Pending) -> Section:
        asked.append(p.member.email)
        return Section(heading="Can you come", paragraphs=(("I can come: https://x.example/yes",),))

    with database.transaction(factory) as db:
        first = sets.meetings_in_order(db.get(LearningSet, set_id))[0]
        pending = invites.pending_invites(db, first.learning_set, only=first, now=NOW)[0]
        row = SentInvite(meeting_id=first.id, member_id=pending.member.id, claim=pending.claim)
        made = invites.compose_row(db, row, config, replies)
    body = made.email.get_body(("plain",)).get_content()
    assert asked == [pending.member.email]
    assert "Can you come" in body and "I can come: https://x.example/yes" in body
    assert made.name == invites.file_stem(pending)
