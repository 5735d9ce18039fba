"""Setting up a set as a new facilitator would: the first set, its short id and time zone, its
members (one at a time or a pasted list) and a series whose first and last sessions differ."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from toolkit import limits
from toolkit.config import REPO_ROOT
from toolkit.models import LearningSet, Member
from toolkit.setfile import import_file

from .conftest import add_user, sign_in
from .test_sets_web import make_set, meetings, text

DEMO = REPO_ROOT / "examples" / "learning-set.yaml"


@pytest.fixture
def db(app):
    """A database session the test reads through (`meetings` expires it before each read)."""
    with app.extensions["toolkit"].sessions() as session:
        yield session


def load_demo(app) -> None:
    kit = app.extensions["toolkit"]
    import_file(kit.sessions, DEMO, kit.bank, kit.templates)


def test_home_leads_to_the_first_set_and_the_demo_is_apart(app, client):
    load_demo(app)
    sign_in(client, add_user(app, "admin@example.org", admin=True))
    home = text(client.get("/"))
    assert "Create your first learning set" in home
    listing = text(client.get("/sets/"))
    mine, _, rest = listing.partition("<h2>Demo</h2>")
    assert "Create your first learning set" in mine and "You have no learning sets yet" in mine
    assert "KSS Foundation leadership set A" not in mine
    assert "KSS Foundation leadership set A" in rest and "Demo</strong>" in rest
    assert "Demo</strong>" in text(client.get("/sets/kss-fy-2027-set-a"))
    # once the admin has a set of their own, home lists it and offers another
    client.post("/sets/new", data={"title": "Mine", "time_zone": "Europe/London"})
    home = text(client.get("/"))
    assert "Create your first learning set" not in home and "Create another learning set" in home


def test_a_facilitator_never_sees_the_demo(app, client):
    load_demo(app)
    sign_in(client, add_user(app))
    assert "KSS Foundation" not in text(client.get("/sets/"))
    assert client.get("/sets/kss-fy-2027-set-a").status_code == 404


def test_the_short_id_is_made_from_the_title_when_left_blank(app, db, signed_in):
    form = {"title": "Thames Valley GP set – Zoë's B", "slug": "", "time_zone": "Europe/London"}
    first = signed_in.post("/sets/new", data=form)
    assert first.headers["Location"].endswith("/sets/thames-valley-gp-set-zoe-s-b")
    again = signed_in.post("/sets/new", data=form)
    assert again.headers["Location"].endswith("/sets/thames-valley-gp-set-zoe-s-b-2")
    typed = signed_in.post("/sets/new", data=form | {"slug": "Not Valid"})
    assert typed.status_code == 400
    assert "Use only lower-case letters, digits and single hyphens" in text(typed)


def test_the_time_zone_is_a_list_with_london_first_and_errors_are_sentences(signed_in):
    page = text(signed_in.get("/sets/new"))
    options = page[page.index('id="time_zone"') :]
    assert options.index("Europe/London") < options.index("Africa/Abidjan")
    assert 'data-slug-from="title"' in page  # the script fills the short id from the title
    bad = signed_in.post("/sets/new", data={"title": "X", "time_zone": "Mars/Olympus"})
    assert bad.status_code == 400
    assert "Choose a time zone from the list, e.g. Europe/London" in text(bad)
    signed_in.post("/sets/new", data={"title": "Taken", "slug": "taken"})
    clash = text(signed_in.post("/sets/new", data={"title": "Taken", "slug": "taken"}))
    assert "A set with the short id 'taken' already exists. Choose another short id." in clash


def test_the_add_member_form_stays_open_after_an_add_and_an_error(signed_in):
    signed_in.post("/sets/new", data={"title": "Set A", "slug": "set-a"})
    added = signed_in.post(
        "/sets/set-a/members",
        data={"member-name": "Zoë Marsh", "member-email": "zoe@example.nhs.uk"},
    )
    assert "adding=member" in added.headers["Location"]
    page = text(signed_in.get(added.headers["Location"]))
    assert '<details class="nhsuk-details" id="add-member" open>' in page
    assert '<details class="nhsuk-details" id="add-member">' in text(signed_in.get("/sets/set-a"))
    refused = signed_in.post(
        "/sets/set-a/members", data={"member-name": "Tom", "member-email": "not-an-address"}
    )
    assert refused.status_code == 400
    assert '<details class="nhsuk-details" id="add-member" open>' in text(refused)


PASTED = (
    "Name\tE-mail\tGrade\n"
    "Zoë Marsh\tzoe@example.nhs.uk\tGPST1\n"
    "Łukasz Nowak, lukasz@example.nhs.uk, GPST2\n"
    "Amara Okafor, amara@example\n"
    "Zoe again, ZOE@example.nhs.uk, GPST1\n"
)


def test_a_pasted_list_is_previewed_then_added(db, signed_in):
    signed_in.post("/sets/new", data={"title": "Set A", "slug": "set-a"})
    preview = signed_in.post("/sets/set-a/members/list", data={"list-members": PASTED})
    page = text(preview)
    assert preview.status_code == 200 and "Check the members to add" in page
    assert "2 members will be added" in page and "Add 2 members" in page
    assert "3 lines will not be added" in page
    assert "Line 1" in page and "heading row" in page
    assert "Line 4" in page and "The e-mail address “amara@example” is not valid." in page
    assert "Line 5" in page and "is also on line 2" in page
    assert db.scalars(select(Member)).all() == []  # nothing yet
    done = signed_in.post("/sets/set-a/members/list", data={"list-members": PASTED, "do": "add"})
    assert done.status_code == 302
    assert "2 members added." in text(signed_in.get("/sets/set-a"))
    db.expire_all()
    found = [(m.name, m.email, m.grade) for m in db.scalars(select(Member).order_by(Member.id))]
    assert found == [
        ("Zoë Marsh", "zoe@example.nhs.uk", "GPST1"),
        ("Łukasz Nowak", "lukasz@example.nhs.uk", "GPST2"),
    ]
    # the same list again adds nobody, and says why for each line
    again = text(signed_in.post("/sets/set-a/members/list", data={"list-members": PASTED}))
    assert "Nobody on this list can be added." in again and "Add 0" not in again
    assert "zoe@example.nhs.uk is already a member of this set." in again


def test_a_pasted_list_keeps_to_the_member_cap(db, signed_in):
    signed_in.post("/sets/new", data={"title": "Set A", "slug": "set-a"})
    lines = "\n".join(f"Member {n}, m{n}@example.nhs.uk, FY1" for n in range(limits.MEMBERS + 2))
    preview = text(signed_in.post("/sets/set-a/members/list", data={"list-members": lines}))
    assert f"Add {limits.MEMBERS} members" in preview and "2 lines will not be added" in preview
    signed_in.post("/sets/set-a/members/list", data={"list-members": lines, "do": "add"})
    assert len(db.scalars(select(Member)).all()) == limits.MEMBERS
    too_long = "x" * (limits.MEMBER_LIST + 1)
    refused = signed_in.post("/sets/set-a/members/list", data={"list-members": too_long})
    assert refused.status_code == 400 and "Paste at most 20,000 characters" in text(refused)


def test_a_series_takes_its_own_first_and_last_templates_and_titles(db, signed_in):
    signed_in.post("/sets/new", data={"title": "Set A", "slug": "set-a"})
    page = text(signed_in.get("/sets/set-a"))
    # a fresh form proposes the usual first and last meetings
    assert 'value="first-meeting" selected' in page
    assert 'value="final-review" selected' in page
    scheduled = signed_in.post(
        "/sets/set-a/schedule",
        data={
            "series-first_date": "2027-02-11",
            "series-start_time": "14:00",
            "series-every_weeks": "6",
            "series-count": "4",
            "series-first_template": "first-meeting",
            "series-template": "action-learning-set",
            "series-last_template": "final-review",
        },
    )
    assert scheduled.status_code == 302
    found = meetings(db)
    assert [m.template_id for m in found] == [
        "first-meeting",
        "action-learning-set",
        "action-learning-set",
        "final-review",
    ]
    assert [m.title for m in found] == [
        "Getting started",
        "Action learning",
        "Action learning",
        "Looking back and moving on",
    ]
    assert [m.minutes for m in found] == [180, 195, 195, 150]  # each template's own slot
    listing = text(signed_in.get("/sets/set-a"))
    assert "First meeting (contracting and ground rules), 180 min" in listing


def test_a_series_length_can_be_set_and_the_first_session_reviews_no_actions(db, signed_in):
    signed_in.post("/sets/new", data={"title": "Set A", "slug": "set-a"})
    signed_in.post(
        "/sets/set-a/schedule",
        data={
            "series-first_date": "2027-02-11",
            "series-start_time": "14:00",
            "series-every_weeks": "6",
            "series-count": "2",
            "series-template": "action-learning-set",
            "series-minutes": "210",
        },
    )
    first, second = meetings(db)
    assert (first.minutes, second.minutes) == (210, 210)
    assert "action-review" not in [b.kind for b in first.blocks]
    assert "action-review" in [b.kind for b in second.blocks]


def test_make_set_still_schedules_one_template_throughout(db, signed_in):
    make_set(signed_in)
    assert {m.template_id for m in meetings(db)} == {"action-learning-set"}
    assert db.scalar(select(LearningSet)).slug == "set-a"
