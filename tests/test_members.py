"""The member's own page: reached only by their private link, showing only their own things,
changing nothing on GET, and saving replies, pre-work ticks and action updates on POST."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from toolkit.models import Action, PreworkTick, Rsvp

from .test_self_assessment import tokens
from .test_sets_web import days_ago, make_set, meetings

FUTURE = "2037-02-12"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def db(app):
    with app.extensions["toolkit"].sessions() as session:
        yield session


@pytest.fixture
def set_up(app, db, signed_in):
    """Set A with six members and six sessions from 2037; session 1 has two items of pre-work
    and Zoë has an action. Returns the facilitator's client and every member's token."""
    make_set(signed_in, first=FUTURE)
    first = meetings(db)[0]
    url = f"/sets/set-a/sessions/{first.key}"
    for resource in ("healthcare-leadership-model", "the-reflective-practitioner"):
        signed_in.post(url + "/resources", data={"resource": resource, "role": "prework"})
    zoe, lukasz = first.learning_set.members[:2]
    for member, what in ((zoe, "Talk to the ward manager"), (lukasz, "Łukasz's secret plan")):
        signed_in.post(
            url + "/actions", data={"action-member": str(member.id), "action-text": what}
        )
    return signed_in, tokens(app)


def test_the_page_shows_sessions_prework_and_own_actions_only(app, set_up):
    _facilitator, links = set_up
    member = app.test_client()
    page = text(member.get(f"/m/{links['zoe@example.nhs.uk']}"))
    assert "Session 1 of 6" in page and "Session 6 of 6" in page
    assert "Thu 12 Feb 2037, 14:00 to 17:15 (Europe/London time)" in page
    assert "Room 2" in page
    assert "Pre-work for session 1" in page and "minutes in all" in page
    assert page.count('name="done"') == 2
    assert "Talk to the ward manager" in page
    assert "secret plan" not in page  # another member's action
    for other in ("Łukasz", "Siobhán", "Amara", "Priya", "lukasz@"):
        assert other not in page
    assert "/self-assessment/" in page
    rating = text(member.get(f"/self-assessment/{links['zoe@example.nhs.uk']}"))
    assert f'href="/m/{links["zoe@example.nhs.uk"]}"' in rating  # and back again


def test_a_wrong_short_or_replaced_token_gets_nothing(app, set_up):
    _facilitator, links = set_up
    member = app.test_client()
    token = links["zoe@example.nhs.uk"]
    assert member.get("/m/" + "x" * 43).status_code == 404
    assert member.get("/m/short").status_code == 404
    assert "Replace my private link" in text(member.get(f"/m/{token}/new-link"))
    assert member.get(f"/m/{token}").status_code == 200  # GET only asks
    moved = member.post(f"/m/{token}/new-link")
    assert moved.status_code == 302
    assert member.get(f"/m/{token}").status_code == 404
    assert member.get(moved.headers["Location"]).status_code == 200


def test_get_changes_nothing_and_a_post_saves_the_reply(app, db, set_up):
    _facilitator, links = set_up
    member = app.test_client()
    token = links["lukasz@example.nhs.uk"]
    first = meetings(db)[0]
    for answer in ("yes", "no"):
        asked = text(member.get(f"/m/{token}/reply/{first.key}/{answer}"))
        assert "Send my reply" in asked and "note for your facilitator" in asked
    assert db.scalars(select(Rsvp)).all() == []
    saved = member.post(f"/m/{token}/reply/{first.key}/no", data={"note": "On nights"})
    assert saved.status_code == 302
    db.expire_all()
    rsvp = db.scalars(select(Rsvp)).one()
    assert (rsvp.status, rsvp.note, rsvp.source) == ("apologies", "On nights", "link")
    # the register is pre-filled: apologies, so the rota skips him
    assert {(a.member_id, a.status) for a in meetings(db)[0].attendance} == {
        (rsvp.member_id, "apologies")
    }
    page = text(member.get(f"/m/{token}"))
    assert "I can't come (On nights)" in page
    member.post(f"/m/{token}/reply/{first.key}/yes", data={"note": ""})
    db.expire_all()
    assert db.scalars(select(Rsvp)).one().status == "attending"
    assert meetings(db)[0].attendance == []
    assert member.get(f"/m/{token}/reply/{first.key}/maybe").status_code == 404
    assert member.get(f"/m/{token}/reply/nope/yes").status_code == 404


def test_ticks_are_saved_per_member_and_item(app, db, set_up):
    _facilitator, links = set_up
    member = app.test_client()
    token = links["zoe@example.nhs.uk"]
    first = meetings(db)[0]
    url = f"/m/{token}/prework/{first.key}"
    assert member.post(url, data={"done": ["the-reflective-practitioner"]}).status_code == 302
    assert member.post(url, data={"done": ["the-reflective-practitioner"]}).status_code == 302
    db.expire_all()
    assert [t.resource_id for t in db.scalars(select(PreworkTick))] == [
        "the-reflective-practitioner"
    ]
    page = member.get(f"/m/{token}").get_data(as_text=True)
    assert re.search(r'value="the-reflective-practitioner"[^>]* checked', page)
    assert not re.search(r'value="healthcare-leadership-model"[^>]* checked', page)
    member.post(url, data={})  # both unticked
    assert db.scalars(select(PreworkTick)).all() == []
    # someone else's page does not show Zoë's ticks
    member.post(url, data={"done": ["healthcare-leadership-model"]})
    other = app.test_client().get(f"/m/{links['tom@example.nhs.uk']}").get_data(as_text=True)
    assert " checked" not in other


def test_a_member_updates_their_own_action_and_no_one_elses(app, db, set_up):
    _facilitator, links = set_up
    member = app.test_client()
    token = links["zoe@example.nhs.uk"]
    mine, theirs = db.scalars(select(Action).order_by(Action.id)).all()
    done = member.post(
        f"/m/{token}/actions/{mine.id}", data={"status": "done", "outcome": "Template agreed"}
    )
    assert done.status_code == 302
    assert (
        member.post(f"/m/{token}/actions/{theirs.id}", data={"status": "done"}).status_code == 404
    )
    bad = member.post(f"/m/{token}/actions/{mine.id}", data={"status": "won"})
    assert bad.status_code == 302 and "status must be one of" in text(member.get(f"/m/{token}"))
    db.expire_all()
    assert (mine.status, mine.outcome) == ("done", "Template agreed")
    assert theirs.status == "open"


def test_past_sessions_attended_and_cancelled_ones_marked(app, db, signed_in):
    make_set(signed_in, first=days_ago(50))
    links = tokens(app)
    first, second = meetings(db)[:2]
    statuses = {f"member-{m.id}": "present" for m in first.learning_set.members}
    signed_in.post(f"/sets/set-a/sessions/{first.key}/attendance", data=statuses)
    third = meetings(db)[2]
    signed_in.post(
        f"/sets/set-a/sessions/{third.key}/status",
        data={"status": "cancelled", "reason": "Strike day"},
    )
    page = text(app.test_client().get(f"/m/{links['zoe@example.nhs.uk']}"))
    past = page.split('id="past"')[1].split("<h2")[0]
    assert f"Session 1: {first.title}" in past and "Session 2:" not in past
    later = page.split('id="later"')[1].split('id="past"')[0]
    card = later.split("session-session-3")[1].split("session-session-5")[0]  # 4 is next
    assert "Cancelled</strong>" in card and "Strike day" in card and "I can come" not in card


def test_every_change_needs_the_forms_csrf_token(env, db, set_up):
    from toolkit.web import create_app

    _facilitator, links = set_up
    strict = create_app({"TESTING": True}).test_client()
    token = links["zoe@example.nhs.uk"]
    key = meetings(db)[0].key
    action = db.scalars(select(Action).order_by(Action.id)).first()
    for url, data in (
        (f"/m/{token}/reply/{key}/no", {"note": "forged"}),
        (f"/m/{token}/prework/{key}", {"done": "healthcare-leadership-model"}),
        (f"/m/{token}/actions/{action.id}", {"status": "dropped"}),
        (f"/m/{token}/new-link", {}),
    ):
        assert strict.post(url, data=data).status_code in (200, 400), url  # 200: asked again
    db.expire_all()
    assert db.scalars(select(Rsvp)).all() == [] and db.scalars(select(PreworkTick)).all() == []
    assert action.status == "open"
    assert strict.get(f"/m/{token}").status_code == 200  # the link still works
    page = strict.get(f"/m/{token}").get_data(as_text=True)
    assert page.count('name="csrf_token"') >= 2


def letters_in_outbox(app, pattern: str) -> list[str]:
    """The plain text of each e-mail in the outbox whose file name matches `pattern`."""
    import email
    import email.policy

    found = []
    for path in sorted(app.extensions["toolkit"].settings.outbox_dir.glob(pattern)):
        letter = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found.append(letter.get_body(("plain",)).get_content().replace("\r\n", "\n"))
    return found


def test_the_facilitator_sends_one_member_their_link_once(app, db, set_up):
    from .conftest import send_and_deliver

    facilitator, links = set_up
    zoe = meetings(db)[0].learning_set.members[0]
    show = facilitator.get("/sets/set-a").get_data(as_text=True)
    send_id = re.search(rf'name="send_id" value="([\w-]+-{zoe.id})"', show).group(1)
    url = f"/sets/set-a/members/{zoe.id}/send-link"
    progress = send_and_deliver(facilitator, app, url, data={"send_id": send_id})
    assert progress.status_code == 200
    facilitator.post(url, data={"send_id": send_id})  # the same form again: nothing more
    app.extensions["toolkit"].queue.burst()
    sent = letters_in_outbox(app, "member-link-*.eml")
    assert len(sent) == 1
    assert f"/m/{links['zoe@example.nhs.uk']}" in sent[0] and "Dear Zoë" in sent[0]
    assert facilitator.post("/sets/set-a/members/999/send-link").status_code == 404


def reply_links(plain: str) -> dict[str, str]:
    """The two reply lines of a letter's plain text, each on its own line after its words."""
    found = dict(re.findall(r"^(I can come|I can't come): (http\S+)$", plain, re.M))
    assert set(found) == {"I can come", "I can't come"}, plain
    return found


def test_every_invite_carries_the_reply_links_that_lead_to_a_confirm_page(app, db, set_up):
    from .conftest import send_and_deliver

    facilitator, _links = set_up
    send_and_deliver(facilitator, app, "/sets/set-a/invites/send")
    first = meetings(db)[0]
    invites = letters_in_outbox(app, "session-1-*-request-*.eml")
    assert len(invites) == 6
    db.expire_all()
    tokens_now = {m.email: m.assessment_token for m in first.learning_set.members}
    zoe = next(t for t in invites if "Dear Zoë" in t)
    links = reply_links(zoe)
    base = f"http://127.0.0.1:5000/m/{tokens_now['zoe@example.nhs.uk']}/reply/{first.key}"
    assert links == {"I can come": base + "/yes", "I can't come": base + "/no"}
    path = links["I can't come"].removeprefix("http://127.0.0.1:5000")
    member = app.test_client()
    assert "Send my reply" in text(member.get(path))  # a mail scanner's GET saves nothing
    assert db.scalars(select(Rsvp)).all() == []
    assert member.post(path, data={"note": "Exam that day"}).status_code == 302
    db.expire_all()
    assert db.scalars(select(Rsvp)).one().note == "Exam that day"


def test_every_reminder_carries_the_reply_links(app, db, set_up):
    from datetime import date, datetime, time

    _facilitator, links = set_up
    queue = app.extensions["toolkit"].queue
    assert queue.run_due(datetime.combine(date(2037, 2, 10), time(9))) >= 6  # and self-assessment
    queue.burst()
    reminders = letters_in_outbox(app, "reminder-*.eml")
    assert len(reminders) == 6
    first = meetings(db)[0]
    for plain in reminders:
        yes = reply_links(plain)["I can come"]
        assert yes.endswith(f"/reply/{first.key}/yes")
    token = links["tom@example.nhs.uk"]  # tokens made before are the ones the letters carry
    assert any(f"/m/{token}/reply/" in plain for plain in reminders)


def test_the_session_page_counts_the_replies_and_lists_their_notes(app, db, set_up):
    facilitator, links = set_up
    first = meetings(db)[0]
    url = f"/sets/set-a/sessions/{first.key}"
    assert "Replies:</strong> 0 coming, 0 apologies, 6 not answered" in text(facilitator.get(url))
    member = app.test_client()
    for email in ("zoe", "tom", "amara", "priya"):
        token = links[f"{email}@example.nhs.uk"]
        member.post(f"/m/{token}/reply/{first.key}/yes", data={"note": ""})
    token = links["lukasz@example.nhs.uk"]
    member.post(f"/m/{token}/reply/{first.key}/no", data={"note": "Night shifts <b>"})
    page = facilitator.get(url).get_data(as_text=True)
    assert "4 coming, 1 apologies, 1 not answered" in page
    assert "Łukasz Nowak (apologies): Night shifts &lt;b&gt;" in page


def test_a_session_under_way_takes_no_more_replies(app, db, signed_in):
    from datetime import UTC, datetime, timedelta

    make_set(signed_in, first=FUTURE)
    links = tokens(app)
    first = meetings(db)[0]
    first.starts_at = datetime.now(UTC) - timedelta(minutes=30)  # started, not yet over
    db.commit()
    member = app.test_client()
    token = links["zoe@example.nhs.uk"]
    card = text(member.get(f"/m/{token}")).split(f'id="session-{first.key}"')[1]
    card = card.split('class="nhsuk-card"')[0]
    assert "replies have closed" in card and "I can come" not in card
    refused = member.post(f"/m/{token}/reply/{first.key}/yes", data={"note": ""})
    assert refused.status_code == 400 and "The session has started" in text(refused)


def test_the_reminder_preview_shows_a_stand_in_never_a_members_link(app, set_up):
    facilitator, links = set_up
    preview = text(facilitator.get("/sets/set-a/messages/preview/reminder"))
    assert "I can come: http://127.0.0.1:5000/m/…your-private-link…/reply/" in preview
    assert not any(token in preview for token in links.values())


def test_the_invites_page_shows_the_reply_lines_with_a_stand_in(app, set_up):
    facilitator, links = set_up
    review = text(facilitator.get("/sets/set-a/invites"))
    assert "I can come: http://127.0.0.1:5000/m/…your-private-link…/reply/session-1/yes" in review
    assert not any(token in review for token in links.values())


def test_a_reply_racing_another_is_recorded_after_reading_again(app, db, set_up, monkeypatch):
    from sqlalchemy.orm.exc import StaleDataError

    from toolkit import replies

    _facilitator, links = set_up
    first = meetings(db)[0]
    real, calls = replies.record_reply, []

    def racing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:  # another member's apologies changed the session meanwhile
            raise StaleDataError("meetings row was updated by someone else")
        return real(*args, **kwargs)

    monkeypatch.setattr(replies, "record_reply", racing)
    token = links["amara@example.nhs.uk"]
    saved = app.test_client().post(f"/m/{token}/reply/{first.key}/no", data={"note": "Leave"})
    assert saved.status_code == 302 and len(calls) == 2
    db.expire_all()
    assert db.scalars(select(Rsvp)).one().note == "Leave"


def test_a_note_too_long_is_refused_and_kept_as_typed(app, db, set_up):
    _facilitator, links = set_up
    first = meetings(db)[0]
    token = links["amara@example.nhs.uk"]
    long_note = "On call " * 100
    refused = app.test_client().post(f"/m/{token}/reply/{first.key}/yes", data={"note": long_note})
    assert refused.status_code == 400 and "There is a problem" in text(refused)
    assert long_note.strip() in text(refused)
    assert db.scalars(select(Rsvp)).all() == []
