"""Scheduling and deleting sessions on the web: clashes refused; deletions owe cancellations."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.policy import default

import yaml
from icalendar import Calendar
from sqlalchemy import select

from toolkit.models import LearningSet, Meeting

from .conftest import send_and_deliver
from .test_sets_web import db, make_set, meetings, text  # noqa: F401 (db is a fixture)

TITLE = "Action learning"  # the session title the template gives


def _series(client, first: str, every: str, count: str):
    data = {
        "series-first_date": first,
        "series-start_time": "14:00",
        "series-every_weeks": every,
        "series-count": count,
        "series-template": "action-learning-set",
    }
    return client.post("/sets/set-a/schedule", data=data, follow_redirects=True)


def test_a_series_that_repeats_a_session_is_refused_and_adds_nothing(app, db, signed_in):  # noqa: F811
    make_set(signed_in)  # six sessions, Thu 11 Feb 2027 and every 6 weeks, at 14:00
    page = text(_series(signed_in, "2027-01-28", "2", "3"))  # 28 Jan, 11 Feb, 25 Feb
    assert (
        f"There is already a session at Thu 11 Feb 2027, 14:00 (Session 1: {TITLE}); "
        "nothing was added." in page
    )
    assert len(meetings(db)) == 6  # not even 28 Jan, which was free
    again = text(_series(signed_in, "2027-02-11", "6", "6"))
    assert "There are already sessions at Thu 11 Feb 2027, 14:00 (Session 1: " in again
    assert f"and Thu 9 Sep 2027, 14:00 (Session 6: {TITLE}); nothing was added." in again
    assert len(meetings(db)) == 6
    assert "3 sessions scheduled" in text(_series(signed_in, "2027-01-07", "1", "3"))
    assert len(meetings(db)) == 9


def test_a_single_session_at_an_existing_start_is_refused(app, db, signed_in):  # noqa: F811
    make_set(signed_in)
    second = meetings(db)[1]
    signed_in.post(f"/sets/set-a/sessions/{second.key}/status", data={"status": "cancelled"})

    def add(clock: str) -> str:
        data = {
            "one-date": "2027-03-25",
            "one-start_time": clock,
            "one-template": "action-learning-set",
        }
        return text(signed_in.post("/sets/set-a/sessions", data=data, follow_redirects=True))

    refused = add("14:00")  # a cancelled session still holds its place
    assert f"There is already a session at Thu 25 Mar 2027, 14:00 (Session 2: {TITLE})" in refused
    assert len(meetings(db)) == 6
    assert "Session added" in add("09:30") and len(meetings(db)) == 7


def test_delete_a_session_members_were_invited_to(app, db, signed_in, env):  # noqa: F811
    make_set(signed_in, first="2037-02-12")
    send_and_deliver(signed_in, app, "/sets/set-a/invites/send")  # 36 invitations to the outbox
    second = meetings(db)[1]
    url = f"/sets/set-a/sessions/{second.key}"
    assert f'href="{url}/delete"' in signed_in.get(url).text
    confirm = text(signed_in.get(f"{url}/delete"))
    assert f"Delete Session 2 ({TITLE})?" in confirm and "Thu 26 Mar 2037, 14:00" in confirm
    assert (
        "6 members were invited; they will be sent a cancellation next time you send invites"
        in confirm
    )
    done = signed_in.post(f"{url}/delete")
    assert done.status_code == 302 and done.location.endswith("/sets/set-a#sessions")
    page = text(signed_in.get("/sets/set-a"))
    assert f"Session 2 ({TITLE}) deleted. 6 members were invited to it" in page
    assert page.count("14:00 to 17:15") == 5 and "26 Mar 2037" not in page
    assert signed_in.get(url).status_code == 404
    assert len(yaml.safe_load(signed_in.get("/sets/set-a/export").data)["sessions"]) == 5
    assert "S6" not in text(signed_in.get("/sets/set-a/map"))
    token = db.scalars(select(LearningSet)).one().feed_token
    feed = Calendar.from_ical(app.test_client().get(f"/feeds/{token}.ics").data)
    assert len(feed.walk("VEVENT")) == 5
    review = text(signed_in.get("/sets/set-a/invites"))
    assert "6 messages will be sent" in review
    assert f"Cancelled: Set A, session 2 of 6: {TITLE}, Thu 26 Mar 2037, 14:00 to 17:15" in review
    sent = send_and_deliver(signed_in, app, "/sets/set-a/invites/send")
    sending = " ".join(re.sub(r"<[^>]+>", " ", text(sent)).split())
    assert "6 of 6 messages delivered" in sending
    assert sending.count("calendar invite, session 2 (deleted)") == 6
    assert sending.count("session 2 (deleted): CANCEL, sequence 1") == 6
    assert len(meetings(db)) == 6  # kept, so the send's page can show its cancellations
    app.extensions["toolkit"].queue.purge()  # the queue's minute-by-minute tick does this
    db.expire_all()
    assert len(meetings(db)) == 5  # purged: every cancellation was delivered
    cancels = sorted((env.data_dir / "outbox").glob("session-2-deleted-*.eml"))
    assert len(cancels) == 6
    message = message_from_bytes(cancels[0].read_bytes(), policy=default)
    assert message["Subject"].startswith("Cancelled: Set A, session 2")
    assert "Everyone has up-to-date invites" in text(signed_in.get("/sets/set-a/invites"))


def test_delete_a_session_nobody_was_invited_to(app, db, signed_in):  # noqa: F811
    make_set(signed_in)
    last = meetings(db)[-1]
    key, last_id = last.key, last.id
    confirm = text(signed_in.get(f"/sets/set-a/sessions/{key}/delete"))
    assert "Nobody needs a cancellation: nobody holds an invitation to it." in confirm
    page = text(signed_in.post(f"/sets/set-a/sessions/{key}/delete", follow_redirects=True))
    assert f"Session 6 ({TITLE}) deleted." in page and "invited to it" not in page
    assert len(meetings(db)) == 5 and db.get(Meeting, last_id) is None
    # a session in its place can be scheduled again, with the same key
    assert "1 session scheduled." in text(_series(signed_in, "2027-09-09", "1", "1"))
    assert [m.key for m in meetings(db)][-1] == key
