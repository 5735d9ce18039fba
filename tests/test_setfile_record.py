"""The learning-set file as the whole record: every edit survives export, import and export."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from toolkit import db as database
from toolkit import sets
from toolkit.casebank import load_bank
from toolkit.config import REPO_ROOT
from toolkit.datafiles import DataFileError
from toolkit.frameworks import load_frameworks
from toolkit.models import LearningSet, User
from toolkit.resources import NewResource, add_resource, attach_resource, catalogue
from toolkit.session_templates import load_session_templates
from toolkit.setfile import export_set, import_file, import_set, parse_set_file

from .conftest import add_user, sign_in

EXAMPLE = REPO_ROOT / "examples" / "learning-set.yaml"
OLD_FILE = Path(__file__).parent / "data" / "setfiles" / "before-whole-record.yaml"
SLUG = "kss-fy-2027-set-a"
BANK = load_bank(REPO_ROOT / "casebank")
TEMPLATES = load_session_templates(REPO_ROOT / "session_templates")


def factory_for(url: str):
    engine = database.make_engine(url)
    database.upgrade(engine)
    return database.session_factory(engine)


@pytest.fixture
def factory(env):
    return database.session_factory(database.make_engine(env.database_url))


def load(factory, path: Path) -> list[str]:
    with database.transaction(factory) as db:
        return import_set(db, parse_set_file(path, BANK, TEMPLATES), BANK, TEMPLATES)[1]


def exported(factory, slug: str = SLUG) -> str:
    with factory() as db:
        return export_set(db.scalar(select(LearningSet).where(LearningSet.slug == slug)))


def write(tmp_path: Path, text: str, name: str = "set.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def make_every_kind_of_edit(factory) -> None:
    """Through the core: each thing a facilitator can change that the file must carry."""
    with database.transaction(factory) as db:
        learning_set = db.scalar(select(LearningSet).where(LearningSet.slug == SLUG))
        meetings = {m.key: m for m in learning_set.meetings}
        members = {m.email.split("@")[0]: m for m in learning_set.members}
        owner = learning_set.facilitators[0]
        # a resource of the facilitator's own, as pre-work
        new = NewResource(
            "Ward huddle guide", "https://huddle.example.org/guide", "reading", 15, ""
        )
        add_resource(db, BANK, load_frameworks(), owner, new)
        library = catalogue(db, BANK)
        attach_resource(db, meetings["session-3"], library, "ward-huddle-guide", "prework")
        # agenda: renamed, re-timed, notes, a facilitator-only block, a block removed
        three = meetings["session-3"]
        blocks = sorted(three.blocks, key=lambda b: b.position)
        first, last = blocks[0], next(b for b in blocks if b.kind == "ground-rules")
        sets.update_block(db, three, first.id, "Arrival and check-in", "20")
        block = sets.add_block(db, three, "Facilitator debrief", "close", 10, "Private", False)
        sets.remove_block(db, three, last.id)
        sets.move_block(db, three, block.id, -1)
        # presenters chosen by hand, with a round left empty
        rounds = sets.presenter_rounds(three)
        sets.set_presenters(db, three, [members["rhodri.apsion"].id, None, members["zoe.marsh"].id])
        three.presenters_by_hand = True
        # a cancellation with its reason
        sets.set_status(db, meetings["session-5"], "cancelled", "Industrial action: no cover")
        # apologies sent in advance, an action closed, a member who left
        sets.record_apologies(db, meetings["session-2"], {members["anais.dubois"].id})
        action = sets.actions_for(db, learning_set)[1]
        sets.update_action(db, action, "dropped", "Handover problem solved by the new rota")
        sets.remove_member(db, members["chidera.okonkwo-hale"])
        # a member whose personal data was deleted: their presence stays as a count
        sets.delete_member(db, members["lukasz.wisniewski"])
        assert rounds  # the template has presenter rounds


def test_every_edit_survives_export_import_export_byte_for_byte(factory, new_database, tmp_path):
    load(factory, EXAMPLE)
    make_every_kind_of_edit(factory)
    first = exported(factory)
    data = yaml.safe_load(first)
    three = next(s for s in data["sessions"] if s["id"] == "session-3")
    arrival = {"title": "Arrival and check-in", "kind": "check-in", "minutes": 20}
    assert arrival.items() <= three["agenda"][0].items()
    debrief = {"title": "Facilitator debrief", "kind": "close", "minutes": 10}
    assert debrief | {"notes": "Private", "handout": False} in three["agenda"]
    assert three["presenters"] == ["rhodri.apsion@example.nhs.uk", None, "zoe.marsh@example.nhs.uk"]
    assert "presenters_from" not in three and three["prework"] == ["ward-huddle-guide"]
    five = next(s for s in data["sessions"] if s["id"] == "session-5")
    assert five["status"] == "cancelled" and five["cancel_reason"].startswith("Industrial action")
    one = data["sessions"][0]
    assert one["attendance"]["zoe.marsh@example.nhs.uk"] == "present"
    assert "lukasz.wisniewski@example.nhs.uk" not in first and one["present_anonymously"] == 1
    assert data["sessions"][1]["attendance"] == {"anais.dubois@example.nhs.uk": "apologies"}
    assert {"id": "ward-huddle-guide", "kind": "reading"}.items() <= data["resources"][1].items()
    left = next(m for m in data["members"] if m["email"].startswith("chidera"))
    assert left["active"] is False
    assert [a["status"] for a in data["actions"]] == ["done", "dropped", "open"]
    assert data["actions"][1]["outcome"].startswith("Handover problem")

    # into a database that has never seen the set, its facilitator or her resources
    elsewhere = factory_for(new_database())
    load(elsewhere, write(tmp_path, first))
    assert exported(elsewhere) == first
    # and importing it again where it came from changes nothing
    assert [n for n in load(factory, write(tmp_path, first)) if not n.startswith("warning")] == []


def test_a_file_from_before_the_whole_record_still_imports(factory, tmp_path):
    notes = load(factory, OLD_FILE)
    assert f"created the set '{SLUG}'" in notes
    data = yaml.safe_load(exported(factory))
    assert [s["id"] for s in data["sessions"]] == [f"session-{n}" for n in range(1, 7)]
    assert all(s["agenda"] for s in data["sessions"])  # built from the templates
    assert "actions" not in data and all("attendance" not in s for s in data["sessions"])


def test_a_facilitator_added_resource_travels_with_the_file(factory, new_database, tmp_path):
    """Before: 'no resource ... in the library' when the file went to another database."""
    load(factory, EXAMPLE)
    elsewhere = factory_for(new_database())
    load(elsewhere, write(tmp_path, exported(factory)))
    with elsewhere() as db:
        assert "riverside-qi-handbook" in catalogue(db, BANK)
        learning_set = db.scalar(select(LearningSet).where(LearningSet.slug == SLUG))
        four = next(m for m in learning_set.meetings if m.key == "session-4")
        assert [r.resource_id for r in four.resources] == ["riverside-qi-handbook"]


def test_presence_for_a_session_still_to_come_is_refused_but_apologies_are_not(tmp_path):
    text = EXAMPLE.read_text("utf-8")
    later = text.replace("start: 2026-11-19 14:00", "start: 2036-11-20 14:00")
    with pytest.raises(DataFileError) as caught:
        parse_set_file(write(tmp_path, later), BANK, TEMPLATES)
    (problem,) = caught.value.problems
    assert problem.line == text.splitlines().index("    attendance:") + 1
    assert "only apologies can be recorded before a session starts" in problem.message
    apologies = later.replace(": present\n", ": apologies\n")
    set_file = parse_set_file(write(tmp_path, apologies), BANK, TEMPLATES)
    assert {status for _e, status in set_file.sessions[0].attendance} == {"apologies"}
    now = datetime(2036, 11, 20, 14, 0, tzinfo=UTC)
    assert parse_set_file(write(tmp_path, later), BANK, TEMPLATES, now=now).sessions[0].attendance


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [
        (("title: Getting started", 'title: "Getting\\0started"'), 58, "NUL character"),
        (("title: Getting started", "title: Getting\x00started"), 58, "bad YAML: unacceptable"),
        (("owner: zoe.marsh@", "owner: nobody@"), 118, "not among the set's members"),
        (
            ("session: session-1\n    owner: rhodri", "session: session-9\n    owner: rhodri"),
            123,
            "no session 'session-9'",
        ),
        (("status: done", "status: finished"), 121, "status: Input should be"),
        (("kind: close", "kind: farewell"), 70, "kind: Input should be"),
        (
            ("zoe.marsh@example.nhs.uk: present", "zoe.marsh@example.nhs.uk: late"),
            72,
            "Input should be 'present', 'apologies' or 'absent'",
        ),
    ],
)
def test_new_keys_are_checked_with_their_line(tmp_path, change, line, message):
    text = EXAMPLE.read_text("utf-8")
    assert text.count(change[0]) == 1, change[0]
    path = write(tmp_path, text.replace(*change))
    with pytest.raises(DataFileError) as caught:
        parse_set_file(path, BANK, TEMPLATES)
    found = [str(p) for p in caught.value.problems]
    assert any(p.startswith(f"{path}:{line}: ") and message in p for p in found), found


def _members(n: int) -> str:
    return "".join(f"  - {{name: M{i}, email: m{i}@example.org}}\n" for i in range(n))


def _sessions(n: int) -> str:
    return "".join(
        f"  - {{start: 2030-{1 + i // 28:02}-{1 + i % 28:02} 14:00, template: first-meeting}}\n"
        for i in range(n)
    )


def _set_file(members: int, sessions: int) -> str:
    head = "id: big\ntitle: Big\nfacilitator: {name: F, email: f@example.org}\n"
    return head + "members:\n" + _members(members) + "sessions:\n" + _sessions(sessions)


def test_a_set_file_is_capped_at_50_members_and_100_sessions(tmp_path):
    assert parse_set_file(write(tmp_path, _set_file(50, 100)), BANK, TEMPLATES)
    with pytest.raises(DataFileError) as caught:
        parse_set_file(write(tmp_path, _set_file(51, 101)), BANK, TEMPLATES)
    found = [(p.line, p.message) for p in caught.value.problems]
    assert (4, "members: List should have at most 50 items after validation, not 51") in found
    assert (56, "sessions: List should have at most 100 items after validation, not 101") in found


@pytest.mark.parametrize(
    "text", ["[" * 20000 + "]" * 20000, "a: " + "{b: " * 100000 + "}" * 100000]
)
def test_deep_nesting_is_a_file_problem_found_quickly(tmp_path, text):
    path = write(tmp_path, text)
    started = time.process_time()
    with pytest.raises(DataFileError) as caught:
        parse_set_file(path, BANK, TEMPLATES)
    assert time.process_time() - started < 5  # a bound, not a benchmark: it took 56 s before
    (problem,) = caught.value.problems
    assert str(problem) == f"{path}:1: nested more than 16 levels deep; data files never need that"


def _upload(client, text: str):
    data = {"file": (io.BytesIO(text.encode()), "learning-set.yaml")}
    return client.post("/sets/import", data=data, content_type="multipart/form-data")


def test_a_facilitator_can_name_only_themselves_as_facilitator(app, client):
    """Before: any address could be made organiser of a set someone else uploaded."""
    sign_in(client, add_user(app, "fac@example.org"))
    refused = _upload(client, EXAMPLE.read_text("utf-8"))
    assert refused.status_code == 400
    assert "learning-set.yaml:11: facilitator.email: you can name only yourself" in refused.text
    assert "(fac@example.org)" in refused.text
    mine = EXAMPLE.read_text("utf-8").replace("s.oneil@example.nhs.uk", "fac@example.org")
    assert _upload(client, mine).status_code == 302
    with database.session_factory(
        database.make_engine(app.extensions["toolkit"].settings.database_url)
    )() as db:
        assert db.scalar(select(User).where(User.email == "s.oneil@example.nhs.uk")) is None


def test_an_admin_can_import_a_set_for_another_facilitator(app, client):
    sign_in(client, add_user(app, "admin@example.org", admin=True))
    assert _upload(client, EXAMPLE.read_text("utf-8")).status_code == 302


def test_import_file_checks_against_the_importers_library(factory, env, tmp_path):
    load(factory, EXAMPLE)
    text = exported(factory).split("resources:\n", 1)
    without = text[0] + "members:\n" + text[1].split("members:\n", 1)[1]  # drop `resources`
    slug, notes = import_file(factory, write(tmp_path, without), BANK, TEMPLATES)
    assert slug == SLUG and notes == [n for n in notes if n.startswith("warning")]


def test_a_cancellation_keeps_its_reason_from_the_web_to_the_file(app, client, factory):
    """Before: the reason had nowhere to go, so the file could not carry it."""
    sign_in(client, add_user(app, "s.oneil@example.nhs.uk"))
    load(factory, EXAMPLE)
    page = client.get(f"/sets/{SLUG}/sessions/session-3")
    assert 'name="reason"' in page.text
    with factory() as db:
        version = db.scalar(select(LearningSet).where(LearningSet.slug == SLUG)).meetings[2].version
    form = {"status": "cancelled", "reason": "Venue flooded", "version": version}
    assert client.post(f"/sets/{SLUG}/sessions/session-3/status", data=form).status_code == 302
    assert (
        "Reason for cancelling: Venue flooded"
        in client.get(f"/sets/{SLUG}/sessions/session-3").text
    )
    three = yaml.safe_load(exported(factory))["sessions"][2]
    assert (three["status"], three["cancel_reason"]) == ("cancelled", "Venue flooded")
    with factory() as db:
        version = db.scalar(select(LearningSet).where(LearningSet.slug == SLUG)).meetings[2].version
    restore = {"status": "scheduled", "version": version}
    assert client.post(f"/sets/{SLUG}/sessions/session-3/status", data=restore).status_code == 302
    assert "cancel_reason" not in yaml.safe_load(exported(factory))["sessions"][2]


def test_two_sessions_at_the_same_moment_are_a_file_problem(tmp_path):
    text = EXAMPLE.read_text("utf-8").replace("start: 2027-02-25 14:00", "start: 2027-01-14 14:00")
    with pytest.raises(DataFileError) as caught:
        parse_set_file(write(tmp_path, text), BANK, TEMPLATES)
    (problem,) = caught.value.problems
    line = text.splitlines().index("  - id: session-3") + 2
    assert str(problem).endswith(
        f":{line}: start: session 'session-2' (line {line - 10}) already starts at 2027-01-14 14:00"
    )


def test_a_file_may_swap_two_sessions_times(factory, tmp_path):
    load(factory, EXAMPLE)
    text = EXAMPLE.read_text("utf-8")
    swapped = (
        text.replace("start: 2027-02-25 14:00", "start: PLACEHOLDER")
        .replace("start: 2027-01-14 14:00", "start: 2027-02-25 14:00")
        .replace("start: PLACEHOLDER", "start: 2027-01-14 14:00")
    )
    notes = load(factory, write(tmp_path, swapped))
    assert any(n.startswith("session-2: time or place changed") for n in notes)
    sessions = {s["id"]: s["start"] for s in yaml.safe_load(exported(factory))["sessions"]}
    assert (sessions["session-2"], sessions["session-3"]) == (
        "2027-02-25 14:00",
        "2027-01-14 14:00",
    )


def test_replies_travel_in_the_file_as_rsvp_and_survive_a_round_trip(
    factory, new_database, tmp_path
):
    from toolkit import replies

    load(factory, EXAMPLE)
    with database.transaction(factory) as db:
        learning_set = db.scalar(select(LearningSet).where(LearningSet.slug == SLUG))
        meetings = {m.key: m for m in learning_set.meetings}
        zoe, rhodri, anais = (
            next(m for m in learning_set.members if m.email.startswith(who))
            for who in ("zoe.marsh", "rhodri.apsion", "anais.dubois")
        )
        three = meetings["session-3"]
        replies.record_reply(db, three, rhodri, "attending", "", "import")
        replies.record_reply(db, three, zoe, "tentative", "May be on call", "import")
        replies.record_reply(db, three, anais, "apologies", "", "import")
    first = exported(factory)
    three = next(s for s in yaml.safe_load(first)["sessions"] if s["id"] == "session-3")
    assert list(three["rsvp"].items()) == [  # in the order members joined
        ("zoe.marsh@example.nhs.uk", "tentative"),
        ("anais.dubois@example.nhs.uk", "apologies"),
        ("rhodri.apsion@example.nhs.uk", "attending"),
    ]
    assert "May be on call" not in first  # a note is for the facilitator, not the file
    elsewhere = factory_for(new_database())
    load(elsewhere, write(tmp_path, first))
    assert exported(elsewhere) == first
    assert [n for n in load(factory, write(tmp_path, first)) if not n.startswith("warning")] == []
    with factory() as db:  # unchanged replies keep their notes
        learning_set = db.scalar(select(LearningSet).where(LearningSet.slug == SLUG))
        three = next(m for m in learning_set.meetings if m.key == "session-3")
        assert sorted(r.note for r in three.rsvps) == ["", "", "May be on call"]
    # a change of mind in the file replaces the reply
    changed = write(
        tmp_path,
        first.replace("zoe.marsh@example.nhs.uk: tentative", "zoe.marsh@example.nhs.uk: attending"),
    )
    assert "session-3: replies recorded for 3 member(s)" in load(factory, changed)


def test_an_rsvp_must_be_one_of_the_three_replies_from_a_member(tmp_path):
    text = EXAMPLE.read_text("utf-8")
    bad = text.replace(
        "    start: 2027-02-25 14:00\n",
        "    start: 2027-02-25 14:00\n    rsvp:\n      zoe.marsh@example.nhs.uk: yes\n"
        "      nobody@example.org: attending\n",
    )
    path = write(tmp_path, bad)
    with pytest.raises(DataFileError) as caught:
        parse_set_file(path, BANK, TEMPLATES)
    found = [str(p) for p in caught.value.problems]
    assert any(p.startswith(f"{path}:91: ") and "attending" in p for p in found), found
    assert any(p.startswith(f"{path}:92: ") for p in found), found
