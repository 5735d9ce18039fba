"""A set built on the web with every kind of edit survives export, import elsewhere, export."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import select

from toolkit import db as database
from toolkit.models import Action, LearningSet, Meeting, Member
from toolkit.programmes.records import create_programme
from toolkit.web import create_app

from .conftest import add_user, sign_in

SLUG = "web-built-set"
FACILITATOR = "fac@example.org"
PROGRAMME = "kss-foundation-2026-27"
MEMBERS = [
    ("Zoë Marsh", "zoe@example.nhs.uk", "FY2"),
    ("Łukasz Nowak", "lukasz@example.nhs.uk", "CT1"),
    ("Siobhán Kelly", "siobhan@example.nhs.uk", "ST3"),
    ("Amara Okafor", "amara@example.nhs.uk", "FY1"),
    ("Tom Reid", "tom@example.nhs.uk", "CT2"),
    ("Priya Shah", "priya@example.nhs.uk", "ST4"),
    ("Rhodri ap Siôn", "rhodri@example.nhs.uk", "ST3"),
    ("Noor Haddad", "noor@example.nhs.uk", "FY2"),  # her data is deleted at the end
]
LONG_RULE = 4 * (
    "Confidentiality: what members say about themselves, their colleagues and their patients "
    "stays in the set, unless someone's safety is at risk; "
)
HANDBOOK_TITLE = (
    "Riverside Trust quality improvement handbook: planning, testing and spreading a change "
    "on the wards"
)
HANDBOOK = re.sub(r"[^a-z0-9]+", "-", HANDBOOK_TITLE.lower()).strip("-")  # 97 characters
VERSION = re.compile(r'name="(?:[a-z]+-)?version"[^>]*?value="(\d+)"')


TODAY = datetime.now(ZoneInfo("Europe/London")).date()


def day(offset: int) -> str:
    """A date `offset` days from today in London, as a date field sends it."""
    return (TODAY + timedelta(days=offset)).isoformat()


def version_on(client, url: str) -> str:
    """The version the forms on a page carry, as a browser sends it back."""
    page = client.get(url)
    assert page.status_code == 200, url
    return VERSION.search(page.text).group(1)


def post(client, url: str, data: dict, page: str | None = None) -> None:
    """Post a form, with the version from `page` when it carries one; it must be saved."""
    if page is not None:
        data = data | {"version": version_on(client, page)}
    response = client.post(url, data=data)
    assert response.status_code == 302, (url, response.text)
    shown = client.get(response.headers["Location"]).text
    assert "There is a problem" not in shown, (url, shown)


def session_url(key: str, action: str = "") -> str:
    return f"/sets/{SLUG}/sessions/{key}" + (f"/{action}" if action else "")


class Record:
    """Reads the first database afresh for the ids the forms name."""

    def __init__(self, app) -> None:
        self.db = app.extensions["toolkit"].sessions()

    def set(self) -> LearningSet:
        self.db.expire_all()
        return self.db.scalar(select(LearningSet).where(LearningSet.slug == SLUG))

    def meeting(self, key: str) -> Meeting:
        return next(m for m in self.set().meetings if m.key == key)

    def member(self, email: str) -> Member:
        return next(m for m in self.set().members if m.email == email)

    def blocks(self, key: str) -> list:
        return sorted(self.meeting(key).blocks, key=lambda b: b.position)

    def rounds(self, key: str) -> list:
        return [b for b in self.blocks(key) if b.kind == "presenter"]

    def actions(self) -> list[Action]:
        self.db.expire_all()
        return list(self.db.scalars(select(Action).order_by(Action.id)))


@pytest.fixture
def record(app):
    found = Record(app)
    yield found
    found.db.close()


@pytest.fixture
def facilitator(app):
    """The facilitator, signed in on the first toolkit."""
    client = app.test_client()
    sign_in(client, add_user(app, FACILITATOR))
    return client


def new_set(client, members: list[tuple[str, str, str]] = MEMBERS) -> None:
    post(
        client, "/sets/new", {"title": "Set W (draft)", "slug": SLUG, "time_zone": "Europe/London"}
    )
    for name, email, grade in members:
        member = {"member-name": name, "member-email": email, "member-grade": grade}
        post(client, f"/sets/{SLUG}/members", member, page=f"/sets/{SLUG}")


def schedule(client, first: int, count: int) -> None:
    """Sessions every three weeks at 14:00 from `first` days from today."""
    series = {
        "series-first_date": day(first),
        "series-start_time": "14:00",
        "series-every_weeks": "3",
        "series-count": str(count),
        "series-template": "action-learning-set",
    }
    post(client, f"/sets/{SLUG}/schedule", series)


def build_the_set(client, record: Record) -> None:
    """Every kind of edit a facilitator can make, through the web, in an order one might."""
    set_details(client)
    schedule(client, -20, 7)  # session-1 has been held; session-2 is tomorrow
    add_and_move_sessions(client, record)
    edit_agenda(client, record)
    choose_presenters(client, record)
    cases_prompts_and_resources(client)
    attendance_and_actions(client, record)
    change_members_and_sessions(client, record)


def add_programme(app) -> None:
    """The programme the set belongs to, as an admin would add it."""
    with database.transaction(app.extensions["toolkit"].sessions) as db:
        create_programme(db, PROGRAMME, "KSS Foundation 2026-27", "2026-27")


def set_details(client) -> None:
    new_set(client)
    add_programme(client.application)
    details = {
        "title": "Set W: leading change",
        "programme": PROGRAMME,
        "venue": "Education Centre\r\nSeminar Room 2",
        "video_url": "https://meet.example.org/set-w",
        "time_zone": "Europe/London",
    }
    post(client, f"/sets/{SLUG}/edit", details, page=f"/sets/{SLUG}/edit")
    rules = f"Stay to the end.\r\n{LONG_RULE}\r\n\r\nOne conversation at a time.\r\n"
    post(client, f"/sets/{SLUG}/ground-rules", {"ground_rules": rules}, page=f"/sets/{SLUG}")


def add_and_move_sessions(client, record: Record) -> None:
    """One more session (session-8), moved forward; session-3 given a place of its own."""
    one = {"one-date": day(120), "one-start_time": "09:30", "one-template": "case-discussion"}
    post(client, f"/sets/{SLUG}/sessions", one)
    moved = {
        "details-title": "Case discussion: leading without authority",
        "details-date": day(30),
        "details-start_time": "10:00",
        "details-minutes": "120",
    }
    post(client, session_url("session-8", "details"), moved, page=session_url("session-8"))
    three = record.meeting("session-3")
    placed = {
        "details-title": three.title,
        "details-date": day(22),
        "details-start_time": "14:00",
        "details-minutes": str(three.minutes),
        "details-venue": "Library, Room 4",
        "details-video_url": "https://meet.example.org/set-w-3",
    }
    post(client, session_url("session-3", "details"), placed, page=session_url("session-3"))


def edit_agenda(client, record: Record) -> None:
    """Session 2: rebuilt from another template, then every block edit."""
    url = session_url("session-2")
    rebuild = {"tpl-template": "short-action-learning-set", "tpl-take_length": "y"}
    post(client, url + "/template", rebuild, page=url)
    block = {
        "block-title": "Facilitator huddle",
        "block-kind": "input",
        "block-minutes": "5",
        "block-notes": "Agree who keeps time.\r\nNot for the handout.",
    }  # block-handout left out: the box is unticked
    post(client, url + "/blocks", block, page=url)
    first, *_, huddle = record.blocks("session-2")
    renamed = {"do": "save", "title": "Arrival and check-in", "minutes": "12"}
    post(client, url + f"/blocks/{first.id}", renamed, page=url)
    post(client, url + f"/blocks/{huddle.id}", {"do": "up"}, page=url)
    post(client, url + f"/blocks/{first.id}", {"do": "down"}, page=url)
    bidding = next(b for b in record.blocks("session-2") if b.kind == "bidding")
    post(client, url + f"/blocks/{bidding.id}", {"do": "remove"}, page=url)


def choose_presenters(client, record: Record) -> None:
    """By hand on session 3 (a round left empty) and session 6 (nobody yet); the rest follow."""
    chosen = [
        record.member("rhodri@example.nhs.uk").id,
        None,
        record.member("amara@example.nhs.uk").id,
    ]
    for key, people in (("session-3", chosen), ("session-6", [None, None, None])):
        rounds = record.rounds(key)
        hand = {f"presenter-{b.id}": str(m or "") for b, m in zip(rounds, people, strict=True)}
        post(client, session_url(key, "rota"), hand | {"do": "save"}, page=session_url(key))


def cases_prompts_and_resources(client) -> None:
    url = session_url("session-3")
    for item in (
        {"case": "four-lists-to-lose"},
        {"case": "a-colleague-under-strain"},
        {"prompt": "explore-where-power-sits"},
        {"prompt": "explore-the-wider-system"},
    ):
        post(client, url + "/attach", item | {"do": "attach"})
    post(client, url + "/attach", {"case": "four-lists-to-lose", "do": "detach"})
    post(client, url + "/attach", {"prompt": "explore-where-power-sits", "do": "detach"})
    own = {
        "title": HANDBOOK_TITLE,
        "url": "https://qi.example.nhs.uk/handbook",
        "kind": "reading",
        "minutes": "20",
        "description": "The trust's own guide to planning a change.",
        "hlm": "evaluating-information",
    }
    post(client, "/resources/", own)
    prework = {"resource": HANDBOOK, "role": "prework"}
    reading = {"resource": "the-reflective-practitioner", "role": "reading"}
    for key, item in (("session-8", prework), ("session-8", reading), ("session-3", prework)):
        post(client, session_url(key, "resources"), item)


def attendance_and_actions(client, record: Record) -> None:
    """Session 1 has been held: who came and what they committed to; apologies for session 2."""
    ids = {email: record.member(email).id for _n, email, _g in MEMBERS}
    statuses = dict.fromkeys(ids, "present") | {
        "siobhan@example.nhs.uk": "apologies",
        "amara@example.nhs.uk": "absent",
    }
    marks = {f"member-{ids[e]}": status for e, status in statuses.items()}
    post(client, session_url("session-1", "attendance"), marks, page=session_url("session-1"))
    away = {"apologies": [str(ids["tom@example.nhs.uk"])]}
    post(client, session_url("session-2", "apologies"), away, page=session_url("session-2"))
    for email, text, due, support in [
        ("zoe@example.nhs.uk", "Ask my supervisor about the rota gap.", "before session 2", ""),
        ("rhodri@example.nhs.uk", "Shadow the discharge coordinator.", "", "An introduction"),
        ("priya@example.nhs.uk", "Write down three questions\r\nfor the set.", "March", ""),
        ("noor@example.nhs.uk", "Try the huddle on my ward.", "", ""),
    ]:
        action = {
            "action-member": str(ids[email]),
            "action-text": text,
            "action-due": due,
            "action-support": support,
        }
        post(client, session_url("session-1", "actions"), action, page=session_url("session-1"))
    done = record.actions()[0]
    outcome = {"status": "done", "outcome": "Met on Tuesday; the draft rota now comes earlier."}
    post(client, f"/sets/{SLUG}/actions/{done.id}", outcome, page=f"/sets/{SLUG}/actions")


def change_members_and_sessions(client, record: Record) -> None:
    """A grade corrected, a member who left, one whose data went; a session cancelled, one
    deleted."""
    lukasz = record.member("lukasz@example.nhs.uk")
    edit = f"/sets/{SLUG}/members/{lukasz.id}/edit"
    post(client, edit, {"name": lukasz.name, "grade": "CT2"}, page=edit)
    rhodri = record.member("rhodri@example.nhs.uk")
    post(client, f"/sets/{SLUG}/members/{rhodri.id}/remove", {}, page=f"/sets/{SLUG}")
    noor = record.member("noor@example.nhs.uk")
    post(client, f"/sets/{SLUG}/members/{noor.id}/delete", {})
    reason = {"status": "cancelled", "reason": "Industrial action:\r\nno cover for the ward."}
    post(client, session_url("session-5", "status"), reason, page=session_url("session-5"))
    assert "invited to it" not in client.get(session_url("session-4", "delete")).text
    post(client, session_url("session-4", "delete"), {})


def export(client) -> bytes:
    response = client.get(f"/sets/{SLUG}/export")
    assert response.status_code == 200
    return response.data


def upload(client, body: bytes) -> None:
    data = {"file": (io.BytesIO(body), f"{SLUG}.yaml")}
    response = client.post("/sets/import", data=data, content_type="multipart/form-data")
    assert response.status_code == 302, response.text


def elsewhere(monkeypatch, tmp_path, url: str):
    """The same facilitator, signed in on another toolkit with an empty database of its own."""
    monkeypatch.setenv("TOOLKIT_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("TOOLKIT_DATABASE_URL", url)
    engine = database.make_engine(url)
    database.upgrade(engine)
    engine.dispose()
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False})
    there = app.test_client()
    sign_in(there, add_user(app, FACILITATOR))
    add_programme(app)
    return there


def check_the_set(data: dict) -> None:
    assert data["title"] == "Set W: leading change"
    assert data["programme"] == PROGRAMME
    assert data["venue"] == "Education Centre\r\nSeminar Room 2"
    assert data["video_url"] == "https://meet.example.org/set-w"
    rules = ["Stay to the end.", LONG_RULE.strip(), "One conversation at a time."]
    assert data["ground_rules"] == rules
    assert [m["email"] for m in data["members"]] == [e for _n, e, _g in MEMBERS[:-1]]
    members = {m["email"]: m for m in data["members"]}
    assert members["lukasz@example.nhs.uk"]["grade"] == "CT2"
    assert [e for e, m in members.items() if "active" in m] == ["rhodri@example.nhs.uk"]
    assert members["rhodri@example.nhs.uk"]["active"] is False
    (handbook,) = data["resources"]
    assert (handbook["id"], handbook["title"]) == (HANDBOOK, HANDBOOK_TITLE)
    assert (handbook["kind"], handbook["minutes"]) == ("reading", 20)
    assert handbook["hlm"] == ["evaluating-information"]


def check_held_session(one: dict) -> None:
    assert one["start"] == f"{day(-20)} 14:00"
    assert one["attendance"] == {
        "zoe@example.nhs.uk": "present",
        "lukasz@example.nhs.uk": "present",
        "siobhan@example.nhs.uk": "apologies",
        "amara@example.nhs.uk": "absent",
        "tom@example.nhs.uk": "present",
        "priya@example.nhs.uk": "present",
        "rhodri@example.nhs.uk": "present",
    }
    assert one["present_anonymously"] == 1  # Noor, whose data was deleted


def check_agenda(two: dict) -> None:
    assert (two["template"], two["minutes"]) == ("short-action-learning-set", 120)
    assert [(b["title"], b["kind"], b["minutes"]) for b in two["agenda"]] == [
        ("Review of actions", "action-review", 15),
        ("Arrival and check-in", "check-in", 12),
        ("Presenter round 1", "presenter", 35),
        ("Presenter round 2", "presenter", 35),
        ("Process review", "process-review", 10),
        ("Facilitator huddle", "input", 5),
        ("Close and next date", "close", 5),
    ]
    huddle = two["agenda"][5]
    assert huddle["notes"] == "Agree who keeps time.\r\nNot for the handout."
    assert huddle["handout"] is False
    assert all("handout" not in b for b in two["agenda"] if b is not huddle)
    assert two["attendance"] == {"tom@example.nhs.uk": "apologies"}
    assert two["presenters_from"] == "rota" and len(two["presenters"]) == 2
    assert "tom@example.nhs.uk" not in two["presenters"]


def check_session_3(three: dict) -> None:
    assert three["presenters"] == ["rhodri@example.nhs.uk", None, "amara@example.nhs.uk"]
    assert "presenters_from" not in three
    assert (three["cases"], three["prompts"]) == (
        ["a-colleague-under-strain"],
        ["explore-the-wider-system"],
    )
    case_blocks = [b for b in three["agenda"] if b["kind"] == "case"]
    assert [(b["title"], b["minutes"]) for b in case_blocks] == [
        ("Case: A colleague under strain", 40)
    ]
    assert three["venue"] == "Library, Room 4"
    assert three["video_url"] == "https://meet.example.org/set-w-3"
    assert three["prework"] == [HANDBOOK]


def check_later_sessions(sessions: dict) -> None:
    eight, five = sessions["session-8"], sessions["session-5"]
    six, seven = sessions["session-6"], sessions["session-7"]
    assert eight["start"] == f"{day(30)} 10:00"
    assert eight["title"] == "Case discussion: leading without authority"
    assert (eight["prework"], eight["reading"]) == ([HANDBOOK], ["the-reflective-practitioner"])
    assert five["status"] == "cancelled"
    assert five["cancel_reason"] == "Industrial action:\r\nno cover for the ward."
    assert [k for k, s in sessions.items() if "status" in s] == ["session-5"]
    assert six["presenters"] == [] and "presenters_from" not in six  # nobody yet, by hand
    assert seven["presenters_from"] == "rota" and len(seven["presenters"]) == 3
    assert "rhodri@example.nhs.uk" not in seven["presenters"]


def check_actions(actions: list[dict]) -> None:
    assert [(a["session"], a.get("owner"), a["status"]) for a in actions] == [
        ("session-1", "zoe@example.nhs.uk", "done"),
        ("session-1", "rhodri@example.nhs.uk", "open"),
        ("session-1", "priya@example.nhs.uk", "open"),
        ("session-1", None, "open"),  # Noor's, kept without her
    ]
    assert actions[0]["outcome"] == "Met on Tuesday; the draft rota now comes earlier."
    assert actions[0]["due"] == "before session 2"
    assert actions[1]["support"] == "An introduction" and "due" not in actions[1]
    assert actions[2]["text"] == "Write down three questions\r\nfor the set."


def test_a_set_built_on_the_web_round_trips_byte_for_byte(
    facilitator, record, monkeypatch, tmp_path, new_database
):
    build_the_set(facilitator, record)
    first = export(facilitator)
    data = yaml.safe_load(first)
    check_the_set(data)
    sessions = {s["id"]: s for s in data["sessions"]}
    assert list(sessions) == [f"session-{n}" for n in (1, 2, 3, 8, 5, 6, 7)]  # 4 was deleted
    check_held_session(sessions["session-1"])
    check_agenda(sessions["session-2"])
    check_session_3(sessions["session-3"])
    check_later_sessions(sessions)
    check_actions(data["actions"])
    assert b"noor" not in first.lower()

    there = elsewhere(monkeypatch, tmp_path, new_database())
    upload(there, first)
    assert export(there).decode() == first.decode()
    upload(facilitator, first)  # and where it came from, importing it changes nothing
    assert export(facilitator).decode() == first.decode()


def test_a_past_session_scheduled_before_the_members_keeps_its_empty_rounds(
    facilitator, record, monkeypatch, tmp_path, new_database
):
    """Before: the import gave its rounds the rota's presenters, so every later session moved."""
    new_set(facilitator, members=[])
    schedule(facilitator, -10, 3)
    for name, email, grade in MEMBERS:
        member = {"member-name": name, "member-email": email, "member-grade": grade}
        post(facilitator, f"/sets/{SLUG}/members", member, page=f"/sets/{SLUG}")
    first = export(facilitator)
    one, two, _three = yaml.safe_load(first)["sessions"]
    assert (one["presenters"], one["presenters_from"]) == ([], "rota")
    assert two["presenters"] == [e for _n, e, _g in MEMBERS[:3]]
    there = elsewhere(monkeypatch, tmp_path, new_database())
    upload(there, first)
    assert export(there).decode() == first.decode()


def test_a_presenter_round_moved_up_round_trips(
    facilitator, record, monkeypatch, tmp_path, new_database
):
    new_set(facilitator)
    schedule(facilitator, 5, 2)
    second_round = record.rounds("session-2")[1]
    url = session_url("session-2")
    post(facilitator, url + f"/blocks/{second_round.id}", {"do": "up"}, page=url)
    first = export(facilitator)
    there = elsewhere(monkeypatch, tmp_path, new_database())
    upload(there, first)
    assert export(there).decode() == first.decode()


def test_a_held_session_cannot_move_to_a_later_day(
    facilitator, record, monkeypatch, tmp_path, new_database
):
    new_set(facilitator)
    schedule(facilitator, -10, 2)
    zoe = record.member("zoe@example.nhs.uk").id
    url = session_url("session-1")
    post(facilitator, url + "/attendance", {f"member-{zoe}": "present"}, page=url)
    later = {
        "details-title": "Held, then moved",
        "details-date": day(5),
        "details-start_time": "14:00",
        "details-minutes": "195",
        "version": version_on(facilitator, url),
    }
    answer = facilitator.post(url + "/details", data=later, follow_redirects=True)
    assert "cannot move to a time that has not come yet" in answer.text
    session_one = yaml.safe_load(export(facilitator))["sessions"][0]
    assert session_one["title"] != "Held, then moved"  # nothing of the change was saved
    first = export(facilitator)
    there = elsewhere(monkeypatch, tmp_path, new_database())
    upload(there, first)
    assert export(there).decode() == first.decode()
