"""Times on the invites page and the session page are on the set's clock, with the zone named;
the calendar's own words (REQUEST, sequence 0) appear only under "Technical details"."""

import re
from zoneinfo import ZoneInfo

from sqlalchemy import select

from toolkit.models import LearningSet, Meeting, SentInvite

from .test_sets_web import MEMBERS, text

ZONE = "Asia/Kolkata"  # UTC+05:30 all year: a local time can never pass for UTC


def make_far_set(client) -> None:
    client.post("/sets/new", data={"title": "Set K", "slug": "set-k", "time_zone": ZONE})
    for name, email, grade in MEMBERS[:2]:
        client.post(
            "/sets/set-k/members",
            data={"member-name": name, "member-email": email, "member-grade": grade},
        )
    client.post(
        "/sets/set-k/schedule",
        data={
            "series-first_date": "2037-02-12",
            "series-start_time": "14:00",
            "series-every_weeks": "6",
            "series-count": "2",
            "series-template": "action-learning-set",
        },
    )


def outside_details(page: str) -> str:
    """The page without its <details> elements (what a facilitator sees without asking)."""
    return re.sub(r"<details.*?</details>", "", page, flags=re.S)


def test_the_send_log_shows_local_times_and_plain_words(app, signed_in):
    make_far_set(signed_in)
    before = text(signed_in.get("/sets/set-k/invites"))
    assert "Invitation" in outside_details(before)
    assert "REQUEST" in before and "REQUEST" not in outside_details(before)
    assert "sequence 0" not in outside_details(before)

    signed_in.post("/sets/set-k/invites/send")
    app.extensions["toolkit"].queue.burst()
    page = text(signed_in.get("/sets/set-k/invites"))
    with app.extensions["toolkit"].sessions() as db:
        sent = db.scalars(select(SentInvite)).all()
    assert sent
    local = sent[0].sent_at.astimezone(ZoneInfo(ZONE))
    shown = f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M}"
    assert shown in page
    assert f"When ({ZONE} time)" in page and "UTC" not in page
    visible = outside_details(page)
    for technical in ("REQUEST", "CANCEL", "sequence 0", "written to"):
        assert technical not in visible, technical
    assert "REQUEST" in page  # still there, for whoever opens the details


def test_a_sessions_changes_are_told_on_the_sets_clock(app, signed_in):
    make_far_set(signed_in)
    with app.extensions["toolkit"].sessions() as db:
        meeting = db.scalars(
            select(Meeting).join(LearningSet).where(LearningSet.slug == "set-k")
        ).first()
        key = meeting.key
    signed_in.post(
        f"/sets/set-k/sessions/{key}/details",
        data={
            "details-title": "Moved",
            "details-date": "2037-02-19",
            "details-start_time": "15:30",
            "details-minutes": "180",
            "details-venue": "Room 9",
        },
    )
    page = text(signed_in.get(f"/sets/set-k/sessions/{key}"))
    changes = page.split("<h3>Changes</h3>")[1].split("</ul>")[0]
    assert "Start moved from Thu 12 Feb 2037, 14:00 to Thu 19 Feb 2037, 15:30" in changes
    assert f"({ZONE})" in changes and "UTC" not in changes and "+00:00" not in changes
