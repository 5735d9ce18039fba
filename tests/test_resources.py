"""Resource library, pre-work with QR codes, and the private self-assessment."""

from __future__ import annotations

import html
import io
import re
import subprocess
from datetime import date, time

import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from toolkit import db as database
from toolkit import invites, sets
from toolkit.casebank import load_bank, load_resources, load_statements
from toolkit.config import REPO_ROOT
from toolkit.datafiles import DataFileError
from toolkit.frameworks import load_frameworks
from toolkit.models import LearningSet, SelfRating
from toolkit.packs import build_pack, document_names, render_document
from toolkit.planning import local_start
from toolkit.resources import attach_resource, catalogue
from toolkit.session_templates import load_session_templates

from .conftest import DATA, sign_in

PREWORK = ["healthcare-leadership-model", "leadership-for-clinicians-lead"]
READING = ["caring-to-change"]


def test_resource_file_problems_name_file_and_line():
    with pytest.raises(DataFileError) as caught:
        load_resources(DATA / "bad_resources" / "resources.yaml")
    text = str(caught.value)
    assert "resources.yaml:10: url: String should match pattern" in text
    assert "resources.yaml:17: kind: Input should be 'framework'" in text
    assert "resources.yaml:19: hlm: unknown HLM id 'charisma'" in text
    assert "resources.yaml:21: duplicate id 'good-one'" in text


def test_statement_file_needs_every_dimension_and_level():
    with pytest.raises(DataFileError) as caught:
        load_statements(DATA / "bad_resources" / "self-assessment.yaml")
    text = str(caught.value)
    assert (
        "self-assessment.yaml:4: dimensions[0].statements: needs a statement for exemplary" in text
    )


def test_repository_library_and_statements():
    bank = load_bank(REPO_ROOT / "casebank")
    assert len(bank.resources) >= 15
    kinds = {r.kind for r in bank.resources.values()}
    assert kinds == {
        "framework",
        "e-learning",
        "podcast",
        "blog",
        "video",
        "reading",
        "organisation",
    }
    assert all(r.url.startswith("https://") for r in bank.resources.values())
    assert len(bank.statements) == 9 and all(len(s) == 4 for s in bank.statements.values())


@pytest.fixture
def session_set(env):
    """A set of 5 whose first session has pre-work and reading (and a final session)."""
    factory = database.session_factory(database.make_engine(env.database_url))
    bank = load_bank(REPO_ROOT / "casebank")
    templates = load_session_templates(REPO_ROOT / "session_templates")
    from toolkit.accounts import create_user

    with database.transaction(factory) as db:
        owner = create_user(db, "owner@example.org", None, "Dr Facilitator")
        s = sets.create_set(db, owner, "set-r", "Set R")
        for n in range(5):
            sets.add_member(db, s, f"Member {n}", f"m{n}@example.nhs.uk", "FY1")
        start = local_start(date(2037, 3, 5), time(14, 0), "Europe/London")
        first, _last = sets.add_series(db, s, start, 6, 2, templates["first-meeting"])
        library = catalogue(db, bank)
        for rid in PREWORK:
            attach_resource(db, first, library, rid, "prework")
        for rid in READING:
            attach_resource(db, first, library, rid, "reading")
        set_id = s.id
    return factory, bank, set_id


def _first(db, set_id):
    return sets.meetings_in_order(db.get(LearningSet, set_id))[0]


def test_prework_in_handout_with_qr_codes_that_decode(session_set, tmp_path):
    factory, bank, set_id = session_set
    with factory() as db:
        pack = build_pack(db, _first(db, set_id), bank, load_frameworks())
    assert pack.prework_minutes == sum(bank.resources[r].minutes for r in PREWORK)
    handout = render_document(pack, "handout")
    reader = PdfReader(io.BytesIO(handout.pdf))
    text = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in reader.pages))
    assert f"Before the session (about {pack.prework_minutes} minutes)" in text
    for rid in PREWORK + READING:
        assert bank.resources[rid].title in text
    (tmp_path / "handout.pdf").write_bytes(handout.pdf)
    subprocess.run(
        ["pdftoppm", "-r", "200", "-png", str(tmp_path / "handout.pdf"), str(tmp_path / "page")],
        check=True,
    )
    found = set()
    for png in sorted(tmp_path.glob("page-*.png")):
        found |= {r.text for r in zxingcpp.read_barcodes(Image.open(png))}
    assert found == {bank.resources[r].url for r in PREWORK + READING}


def test_self_assessment_sheet_only_at_first_and_final_session(session_set):
    factory, bank, set_id = session_set
    with factory() as db:
        first, last = sets.meetings_in_order(db.get(LearningSet, set_id))
        first_pack = build_pack(db, first, bank, load_frameworks())
        last_pack = build_pack(db, last, bank, load_frameworks())
    assert "self-assessment" in document_names(first_pack)
    assert "self-assessment" in document_names(last_pack)
    sheet = render_document(first_pack, "self-assessment")
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(sheet.pdf)).pages)
    assert "Leadership self-assessment" in text and "Influencing for results" in text
    statement = bank.statements["leading-with-care"]["strong"]
    assert statement[:40] in re.sub(r"\s+", " ", text)


def test_prework_in_invite_body_and_calendar(session_set, env):
    factory, bank, set_id = session_set
    with factory() as db:
        s = db.get(LearningSet, set_id)
        config = invites.InviteSettings.from_settings(env, catalogue(db, bank))
        pending = invites.pending_invites(db, s)
        message = invites.message(pending[0], config)
    body = message.get_body(("plain",)).get_content()
    total = sum(bank.resources[r].minutes for r in PREWORK)
    assert f"Pre-work (about {total} min in all):" in body
    for rid in PREWORK:
        assert bank.resources[rid].url in body
    ics = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    unfolded = re.sub(r"\r\n ", "", ics.get_payload(decode=True).decode())
    assert f"Pre-work (about {total} min in all):" in unfolded


def test_setfile_round_trip_keeps_prework_and_reading(session_set, env, tmp_path):
    from toolkit import setfile

    factory, bank, set_id = session_set
    with factory() as db:
        text = setfile.export_set(db.get(LearningSet, set_id))
    assert "  prework:\n  - healthcare-leadership-model" in text
    path = tmp_path / "set-r.yaml"
    path.write_text(text)
    templates = load_session_templates(REPO_ROOT / "session_templates")
    setfile.import_file(factory, path, bank, templates)
    with factory() as db:
        assert setfile.export_set(db.get(LearningSet, set_id)) == text
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("caring-to-change", "no-such-resource"))
    with pytest.raises(DataFileError, match=r"bad.yaml:\d+: .*no resource 'no-such-resource'"):
        setfile.parse_set_file(bad, bank, templates)


def _token(factory, set_id, n):
    with database.transaction(factory) as db:
        member = db.get(LearningSet, set_id).members[n]
        from toolkit.self_assessment import ensure_token

        return ensure_token(member)


def _rate(client, token, phase, level):
    page = client.get(f"/self-assessment/{token}?phase={phase}")
    assert page.status_code == 200
    dims = [a.id for a in load_frameworks().hlm.areas]
    data = {d: str(level) for d in dims} | {"phase": phase}
    return client.post(f"/self-assessment/{token}", data=data)


def test_private_link_flow_totals_and_deletion(app, session_set):
    factory, _bank, set_id = session_set
    anonymous = app.test_client()
    assert anonymous.get("/self-assessment/" + "x" * 43).status_code == 404
    assert anonymous.get("/self-assessment/short").status_code == 404
    tokens = [_token(factory, set_id, n) for n in range(5)]
    assert _rate(anonymous, tokens[0], "start", 2).status_code == 302
    _rate(anonymous, tokens[0], "end", 4)
    mine = html.unescape(anonymous.get(f"/self-assessment/{tokens[0]}").text)
    assert "Your picture so far" in mine and "<svg" in mine
    incomplete = anonymous.post(f"/self-assessment/{tokens[1]}", data={"phase": "start"})
    assert incomplete.status_code == 400
    assert "Choose a level for Inspiring shared purpose" in html.unescape(incomplete.text)
    for token in tokens[1:3]:
        _rate(anonymous, token, "start", 1)
    # the facilitator (signed in as the set's owner) sees no totals below four answers
    facilitator = app.test_client()
    with database.transaction(factory) as db:
        from toolkit.accounts import create_user

        admin = create_user(db, "boss@example.org", "correct horse battery", "Admin", True)
        assert admin.id
    sign_in(facilitator, "boss@example.org")
    page = html.unescape(facilitator.get("/sets/set-r/self-assessment").text)
    assert "3 of 5 members have answered so far. No totals are shown until answers close" in page
    assert "Member 0" not in page
    _rate(anonymous, tokens[3], "start", 3)
    page = html.unescape(facilitator.get("/sets/set-r/self-assessment").text)
    assert "4 of 5 members have answered so far" in page  # never running totals
    assert "how many chose each level" not in page
    assert "Member 0" not in page and tokens[0] not in page
    # deleting through the link removes every rating of that member
    deleted = anonymous.post(f"/self-assessment/{tokens[0]}/delete")
    assert deleted.status_code == 302
    with factory() as db:
        ids = [m.id for m in db.get(LearningSet, set_id).members]
        left = db.query(SelfRating).filter(SelfRating.member_id == ids[0]).count()
        assert left == 0
    page = html.unescape(facilitator.get("/sets/set-r/self-assessment").text)
    assert "3 of 5 members have answered so far" in page
    # another member's token never shows someone else's ratings
    other = html.unescape(anonymous.get(f"/self-assessment/{tokens[4]}").text)
    assert "Your picture so far" not in other


def test_an_unanswered_dimension_keeps_every_answer_and_points_to_the_gap(app, session_set):
    factory, _bank, set_id = session_set
    token = _token(factory, set_id, 0)
    client = app.test_client()
    dims = [a.id for a in load_frameworks().hlm.areas]
    answers = {d: str(n % 4 + 1) for n, d in enumerate(dims) if d != "leading-with-care"}
    response = client.post(f"/self-assessment/{token}", data=answers | {"phase": "end"})
    assert response.status_code == 400
    page = response.text
    summary = page.split('class="nhsuk-error-summary"')[1].split("</div>")[0]
    assert (
        'href="#leading-with-care"' in summary and "Choose a level for Leading with care" in summary
    )
    assert summary.count("<li>") == 1  # only the one left out
    assert '<fieldset class="nhsuk-fieldset" id="leading-with-care"' in page
    assert 'id="leading-with-care-error"' in page  # the message on the fieldset itself
    for n, d in enumerate(dims):  # every answer given is still chosen
        if d != "leading-with-care":
            assert re.search(
                rf'id="{d}-{n % 4 + 1}" name="{d}" type="radio" value="\d" checked', page
            )
    assert " checked" not in page.split('id="leading-with-care"')[1].split("</fieldset>")[0]
    assert 'name="phase" value="end"' in page  # still the end of the programme
    with factory() as db:
        assert db.query(SelfRating).count() == 0  # nothing half-saved


def test_links_are_emailed_one_per_member(app, session_set, env):
    _factory, _bank, _set_id = session_set
    client = app.test_client()
    from toolkit.accounts import create_user

    with database.transaction(app.extensions["toolkit"].sessions) as db:
        create_user(db, "boss@example.org", "correct horse battery", "Admin", True)
    sign_in(client, "boss@example.org")
    response = client.post("/sets/set-r/self-assessment/send")
    assert response.status_code == 302
    app.extensions["toolkit"].queue.burst()
    files = sorted((env.data_dir / "outbox").glob("self-assessment-*.eml"))
    assert len(files) == 5
    text = files[0].read_text()
    assert "/self-assessment/" in text and "ratings are yours" in text


def test_resource_library_page_filter_and_add(app, signed_in):
    page = html.unescape(signed_in.get("/resources/?kind=podcast").text)
    assert "Leadership" in page and re.search(r"\d+ of \d+ resources", page)
    added = signed_in.post(
        "/resources/",
        data={
            "title": "Our deanery's leadership reading list",
            "url": "https://example.nhs.uk/reading",
            "kind": "reading",
            "minutes": "20",
            "description": "The list our programme leads keep.",
            "hlm": "engaging-the-team",
        },
    )
    assert added.status_code == 302
    listed = html.unescape(signed_in.get("/resources/?hlm=engaging-the-team").text)
    assert "Our deanery's leadership reading list" in listed
    bad = signed_in.post(
        "/resources/",
        data={
            "title": "x",
            "url": "http://x",
            "kind": "reading",
            "minutes": "5",
            "description": "d",
        },
    )
    assert bad.status_code == 400 and "starting https://" in html.unescape(bad.text)


def test_cli_resources_list_json(runner, env):
    import json

    from toolkit.cli import main

    result = runner.invoke(main, ["resources", "list", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"id", "title", "url", "kind", "minutes"} <= set(data[0])
    podcasts = runner.invoke(main, ["resources", "list", "--kind", "podcast"])
    assert podcasts.exit_code == 0 and "podcast" in podcasts.output


def test_session_builder_attaches_prework(app, signed_in):
    from .test_sets_web import make_set

    make_set(signed_in, first="2037-02-12")
    db = app.extensions["toolkit"].sessions()
    meeting = sets.meetings_in_order(db.query(LearningSet).one())[0]
    url = f"/sets/set-a/sessions/{meeting.key}"
    signed_in.post(url + "/resources", data={"resource": "ted-leadership-talks", "role": "prework"})
    page = html.unescape(signed_in.get(url).text)
    assert "About" in page and "It appears in the invites" in page
    db.close()


def test_a_long_title_makes_an_id_without_a_trailing_hyphen(session_set):
    """The id was cut at 100 characters after the hyphens were trimmed: 'aaa…-' failed."""
    from toolkit.frameworks import load_frameworks
    from toolkit.models import User
    from toolkit.resources import NewResource, add_resource

    factory, bank, _set_id = session_set
    new = NewResource("a" * 99 + " guide", "https://example.org/guide", "reading", 10, "")
    with database.transaction(factory) as db:
        owner = db.query(User).one()
        row = add_resource(db, bank, load_frameworks(), owner, new)
    assert row.slug == "a" * 99
