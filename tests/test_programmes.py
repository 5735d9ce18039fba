"""Programmes: a lead's page, report PDF and exports agree with each other and with a hand count;
anonymity thresholds hold; leads read but never change their programme's sets."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import select

from toolkit import db as database
from toolkit import evaluations, self_assessment, sets
from toolkit.accounts import create_user
from toolkit.models import Meeting, Programme, User
from toolkit.programmes.records import change_programme, create_programme

from .conftest import PASSWORD, sign_in

CASE = "the-stalled-sepsis-project"  # HLM: sharing-the-vision, engaging-the-team, evaluating-…
SET_A = ["Ada Ahmed", '=HYPERLINK("https://evil.example","x")', "Cai Chen", "-2+3", "@Eve"]
SET_B = ["Bea Brown", "Ben Boateng", "Bo Bell"]


@dataclass
class World:
    now: datetime
    dates_a: list[str]  # local dates of set A's held sessions
    dates_b: list[str]


def _user(db, email: str, admin: bool = False) -> User:
    return create_user(db, email, PASSWORD, email.split("@")[0].title(), admin)


def _members(db, learning_set, names: list[str], domain: str) -> list:
    return [
        sets.add_member(db, learning_set, name, f"m{i}@{domain}", "FY1")
        for i, name in enumerate(names)
    ]


def _rate_everything(db, member, phase: str, level: int, dims: list[str]) -> None:
    self_assessment.save_ratings(db, member, phase, dict.fromkeys(dims, level), dims)


# set A's session 3: four answers (use of time, speaking openly, what they take away)
EVALUATION_A3 = [(5, 5, "Open questions"), (4, 5, "bravery"), (4, 5, ""), (3, 4, "Rota ideas")]


def _evaluate(db, meeting, member, time: int, openly: int, said: str) -> None:
    form = {q.id: "4" for q in evaluations.RATINGS}
    form |= {"use-of-time": str(time), "speak-openly": str(openly), "take-away": said}
    evaluations.submit(db, meeting, member, form, sets.end_time(meeting) + timedelta(hours=1))


@pytest.fixture
def world(app) -> World:
    """Two sets of programme kss-2026 with their own facilitators, a lead, a lead of another
    programme with a set of its own, and an admin; built through the core.

    Set A (5 members): sessions of 180, 150, 180 minutes held, one to come. Session 1 all
    present; session 2: three present, one apologies, one absent; session 3: three present, one
    absent, one not recorded. One open action, one done. Every member rates the start at 2 and
    the end at 3 (the fifth at 4): both phases close with 5 answers.
    Set B (3 members): sessions of 120 minutes held, a cancelled one between, one to come.
    Session 1 all present, session 3 two present and one absent. All three answer both phases:
    3 answers, below the threshold of 4, so nothing of B's self-assessment shows.
    """
    kit = app.extensions["toolkit"]
    template = kit.templates["action-learning-set"]
    dims = [a.id for a in kit.frameworks.hlm.areas]
    now = datetime.now(UTC).replace(microsecond=0)
    london = ZoneInfo("Europe/London")
    with database.transaction(kit.sessions) as db:
        fac_a, fac_b = _user(db, "fac.a@example.org"), _user(db, "fac.b@example.org")
        lead, other_lead = _user(db, "lead@example.org"), _user(db, "other.lead@example.org")
        _user(db, "admin@example.org", admin=True)
        kss = create_programme(db, "kss-2026", "KSS Foundation 2026-27", "2026-27")
        change_programme(db, kss, kss.version, kss.title, kss.year, [lead])
        wessex = create_programme(db, "wessex", "Wessex core", "2026-27")
        change_programme(db, wessex, wessex.version, wessex.title, wessex.year, [other_lead])

        set_a = sets.create_set(db, fac_a, "set-a", "Set A", programme="kss-2026")
        a = _members(db, set_a, SET_A, "a.example.org")
        starts_a = [now - timedelta(days=d) for d in (70, 49, 28)] + [now + timedelta(days=14)]
        held_a = [
            sets.add_meeting(db, set_a, start, template, minutes=minutes)
            for start, minutes in zip(starts_a, (180, 150, 180, 180), strict=True)
        ]
        sets.attach(db, held_a[0], kit.bank, case_id=CASE)
        present = dict.fromkeys([m.id for m in a], "present")
        sets.record_attendance(db, held_a[0], present, now)
        second = {a[0].id: "present", a[1].id: "present", a[2].id: "present"}
        second |= {a[3].id: "apologies", a[4].id: "absent"}
        sets.record_attendance(db, held_a[1], second, now)
        third = {a[0].id: "present", a[1].id: "present", a[2].id: "present", a[3].id: "absent"}
        sets.record_attendance(db, held_a[2], third, now)
        sets.add_action(db, held_a[0], a[0].id, "Open one")
        done = sets.add_action(db, held_a[0], a[1].id, "Done one")
        sets.update_action(db, done, "done")
        for member, (time, openly, said) in zip(
            [a[0], a[1], a[2], a[4]], EVALUATION_A3, strict=True
        ):
            _evaluate(db, held_a[2], member, time, openly, said)
        for member in a[:3]:  # session 1: three answers, too few to show
            _evaluate(db, held_a[0], member, 1, 1, "Too few to show")
        for i, member in enumerate(a):
            _rate_everything(db, member, "start", 2, dims)
            _rate_everything(db, member, "end", 4 if i == 4 else 3, dims)

        set_b = sets.create_set(db, fac_b, "set-b", "Set B", programme="kss-2026")
        b = _members(db, set_b, SET_B, "b.example.org")
        starts_b = [now - timedelta(days=d) for d in (60, 40, 20)] + [now + timedelta(days=30)]
        held_b = [sets.add_meeting(db, set_b, s, template, minutes=120) for s in starts_b]
        sets.set_status(db, held_b[1], "cancelled", "Strike day")
        sets.record_attendance(db, held_b[0], dict.fromkeys([m.id for m in b], "present"), now)
        last = {b[0].id: "present", b[1].id: "present", b[2].id: "absent"}
        sets.record_attendance(db, held_b[2], last, now)
        for member in b:
            _evaluate(db, held_b[0], member, 1, 1, "Set B says")
            _rate_everything(db, member, "start", 1, dims)
            _rate_everything(db, member, "end", 4, dims)

        set_w = sets.create_set(db, fac_b, "set-w", "Set W", programme="wessex")
        _members(db, set_w, ["Wyn Wood"], "w.example.org")
    day = lambda when: f"{when.astimezone(london):%Y-%m-%d}"  # noqa: E731
    return World(now, [day(s) for s in starts_a[:3]], [day(starts_b[0]), day(starts_b[2])])


def _client(app, email: str):
    client = app.test_client()
    sign_in(client, email)
    return client


@pytest.fixture
def lead(app, world):
    return _client(app, "lead@example.org")


def _pdf_text(body: bytes, tmp_path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(body)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True)
    return out.stdout.decode()


def _words(page: str) -> str:
    """A page's visible text on one line, for matching across markup."""
    bare = re.sub(r"<[^>]+>", " ", page)
    return re.sub(r"\s+", " ", bare.replace("&#39;", "'").replace("&amp;", "&"))


# the hand count (see `world`)
SET_A_RATE, SET_B_RATE, PROGRAMME_RATE = "79%", "83%", "80%"  # 11/14, 5/6, 16/20
FOLLOW_UP = {  # below 75 %: name -> (attended, recorded)
    "-2+3": (1, 3),
    "@Eve": (1, 2),
    "Bo Bell": (1, 2),
}
# every member's hours: set A 180 + 150 + 180 minutes, set B 120 + 120
HOURS_ALL = {"Ada Ahmed": 8.5, "=HYPERLINK": 8.5, "Cai Chen": 8.5, "-2+3": 3.0, "@Eve": 3.0}
HOURS_ALL |= {"Bea Brown": 4.0, "Ben Boateng": 4.0, "Bo Bell": 2.0}
HOURS = {"Ada Ahmed": 8.5, "-2+3": 3.0, "@Eve": 3.0, "Bea Brown": 4.0, "Bo Bell": 2.0}


def test_the_page_shows_the_hand_count(lead, world):
    page = lead.get("/programmes/kss-2026")
    assert page.status_code == 200
    words = _words(page.text)
    assert "Attendance 80% (16 present of 20 recorded)" in words
    assert "Sessions held 5 (planned: 2)" in words
    sets_table = _words(page.text.split('id="sets-table"')[1].split("</table>")[0])
    assert re.search(
        r"Set A Facilitator Fac\.A Members 5 Held 3 Planned 1 .* Open actions 1 "
        r"Attendance 79%",
        sets_table,
    )
    assert re.search(
        r"Set B Facilitator Fac\.B Members 3 Held 2 Planned 1 .* Open actions 0 "
        r"Attendance 83%",
        sets_table,
    )
    follow = _words(page.text.split('id="follow-up-table"')[1].split("</table>")[0])
    for name, (attended, recorded) in FOLLOW_UP.items():
        rate = round(100 * attended / recorded)
        assert f"{name} " in follow and f"{attended} {recorded} {rate}%" in follow
    assert "Ada Ahmed" not in follow and "Cai Chen" not in follow
    assert "Wyn Wood" not in page.text  # another programme's member


def test_coverage_adds_up_across_sets_with_gaps(lead, world):
    page = lead.get("/programmes/kss-2026").text
    hlm = _words(page.split('id="coverage-hlm"')[1].split("</table>")[0])
    assert "Sharing the vision 1 0 1" in hlm
    assert "Engaging the team 1 0 1" in hlm
    assert "Evaluating information 1 0 1" in hlm
    assert "Leading with care Gap 0 0 0" in hlm
    assert hlm.count("Gap") == 6
    gpc = _words(page.split('id="coverage-gpc"')[1].split("</table>")[0])
    assert gpc.count("Gap") == 7  # the case reaches two of the nine domains


def test_self_assessment_shows_only_sets_with_four_answers(lead, world):
    page = lead.get("/programmes/kss-2026").text
    table = _words(page.split('id="assessment-table"')[1].split("</table>")[0])
    # only set A (5 answers): start 2.00 everywhere, end (4 × 3 + 4) / 5 = 3.20
    assert "5 answers at the start, 5 at the end" in table
    assert table.count("2.00 3.20 +1.20") == 9
    # set B's 3 answers (start 1, end 4) would move the means if they leaked in
    assert "Sets counted: Set A. " in _words(page)


def test_evaluation_shows_only_released_sessions(lead, world, tmp_path):
    page = lead.get("/programmes/kss-2026").text
    table = _words(page.split('id="evaluation-table"')[1].split("</table>")[0])
    # only set A's session 3: (5 + 4 + 4 + 3) / 4 and (5 + 5 + 5 + 4) / 4; set B shows nothing
    assert "The session was a good use of my time. 4.00 – 4.00" in table
    assert "I felt able to speak openly. 4.75 – 4.75" in table
    assert "Answers (sessions) 4 (1) – 4 (1)" in table
    said = _words(page.split('id="evaluation-text-1"')[1].split("</ul>")[0])
    assert said.strip(" >") == "bravery Open questions Rota ideas"
    assert "Too few to show" not in page and "Set B says" not in page
    flat = re.sub(
        r"\s+", " ", _pdf_text(lead.get("/programmes/kss-2026/report.pdf").data, tmp_path)
    )
    assert "The session was a good use of my time. 4.00 – 4.00" in flat
    assert "I felt able to speak openly. 4.75 – 4.75" in flat
    assert "Too few to show" not in flat and "Set B says" not in flat


def _csv_rows(body: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def test_exports_agree_with_the_hand_count_and_stay_text(lead, world):
    rows = _csv_rows(lead.get("/programmes/kss-2026/attendance.csv").data)
    assert len(rows) == 5 * 3 + 3 * 2  # member × held session; the cancelled one left out
    first = rows[0]
    assert first == {
        "Programme": "KSS Foundation 2026-27",
        "Set": "Set A",
        "Session": "1",
        "Date": world.dates_a[0],
        "Member": "Ada Ahmed",
        "E-mail": "m0@a.example.org",
        "Status": "present",
        "Hours": "3.0",
    }
    eve = [r for r in rows if r["Member"] == "'@Eve"]
    assert [(r["Session"], r["Status"], r["Hours"]) for r in eve] == [
        ("1", "present", "3.0"),
        ("2", "absent", "0.0"),
        ("3", "not recorded", "0.0"),
    ]
    b_sessions = sorted({(r["Session"], r["Date"]) for r in rows if r["Set"] == "Set B"})
    assert b_sessions == [("1", world.dates_b[0]), ("3", world.dates_b[1])]
    names = {r["Member"] for r in rows}
    assert '\'=HYPERLINK("https://evil.example","x")' in names and "'-2+3" in names
    assert not any(n.startswith(("=", "+", "-", "@")) for n in names)

    summary = {
        r["Member"]: r
        for r in _csv_rows(lead.get("/programmes/kss-2026/attendance-summary.csv").data)
    }
    for name, hours in HOURS.items():
        shown = f"'{name}" if name[0] in "=+-@" else name
        assert float(summary[shown]["Hours"]) == hours
    assert summary["'-2+3"]["Attended"] == "1" and summary["'-2+3"]["Recorded"] == "3"

    book = openpyxl.load_workbook(io.BytesIO(lead.get("/programmes/kss-2026/attendance.xlsx").data))
    sheet = book["Attendance"]
    cells = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert len(cells) == len(rows)
    for row in sheet.iter_rows(min_row=2):
        assert row[4].data_type == "s"  # the name is a string cell, never a formula
    assert {r[4] for r in cells} >= {'=HYPERLINK("https://evil.example","x")', "-2+3", "@Eve"}
    assert [(r[2], r[6], r[7]) for r in cells if r[4] == "@Eve"] == [
        (1, "present", 3.0),
        (2, "absent", 0),
        (3, "not recorded", 0),
    ]
    members = {r[2]: r for r in book["Members"].iter_rows(min_row=2, values_only=True)}
    assert members["-2+3"][6:] == (1, 3.0, pytest.approx(1 / 3, abs=1e-4))
    assert members["Ada Ahmed"][6:] == (3, 8.5, 1)
    assert sum(r[7] for r in cells) == pytest.approx(sum(float(r["Hours"]) for r in rows))


def test_the_report_pdf_carries_the_same_numbers(lead, world, tmp_path):
    response = lead.get("/programmes/kss-2026/report.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = _pdf_text(response.data, tmp_path)
    flat = re.sub(r"\s+", " ", text)
    assert "80% (16 present of 20 recorded)" in flat
    assert re.search(r"Fac\.A 5 3 1 .*? 0 1 79%", flat)
    assert re.search(r"Fac\.B 3 2 1 .*? 0 0 83%", flat)
    for name, (attended, recorded) in FOLLOW_UP.items():
        assert re.search(rf"{re.escape(name)} Set \w {attended} {recorded}", flat), name
    assert flat.count("2.00 3.20 +1.20") == 9
    assert "Page 1 of" in flat and "Wyn Wood" not in flat
    assert "<svg" not in text


def test_threshold_is_the_leads_to_set_and_changes_who_to_follow_up(app, lead, world):
    with app.extensions["toolkit"].sessions() as db:
        version = db.get(Programme, "kss-2026").version
    saved = lead.post(
        "/programmes/kss-2026/threshold", data={"follow_up_below": "40", "version": version}
    )
    assert saved.status_code == 302
    follow = lead.get("/programmes/kss-2026").text.split('id="follow-up-table"')[1]
    assert "-2+3" in follow and "@Eve" not in follow.split("</table>")[0]
    stale = lead.post(
        "/programmes/kss-2026/threshold", data={"follow_up_below": "90", "version": version}
    )
    assert stale.status_code == 409
    bad = lead.post("/programmes/kss-2026/threshold", data={"follow_up_below": "250"})
    assert bad.status_code == 400
    with app.extensions["toolkit"].sessions() as db:
        assert db.get(Programme, "kss-2026").follow_up_below == 40


PROGRAMME_URLS = [
    "/programmes/kss-2026",
    "/programmes/kss-2026/report.pdf",
    "/programmes/kss-2026/attendance.csv",
    "/programmes/kss-2026/attendance-summary.csv",
    "/programmes/kss-2026/attendance.xlsx",
]


def test_programme_routes_by_role(app, world):
    lead, admin = _client(app, "lead@example.org"), _client(app, "admin@example.org")
    for url in PROGRAMME_URLS:
        assert lead.get(url).status_code == 200, url
        assert admin.get(url).status_code == 200, url
    for email in ("fac.a@example.org", "other.lead@example.org"):
        someone = _client(app, email)
        for url in [*PROGRAMME_URLS, "/programmes/kss-2026/edit"]:
            assert someone.get(url).status_code == 404, (email, url)
        assert (
            someone.post(
                "/programmes/kss-2026/threshold", data={"follow_up_below": "10"}
            ).status_code
            == 404
        )
    signed_out = app.test_client()
    for url in PROGRAMME_URLS:
        assert signed_out.get(url).status_code == 302, url  # to the sign-in page
    assert lead.get("/programmes/kss-2026/edit").status_code == 404  # admins name leads
    assert lead.post("/programmes/", data={"id": "mine", "title": "Mine"}).status_code == 404
    listed = lead.get("/programmes/").text
    assert "KSS Foundation 2026-27" in listed and "Wessex core" not in listed


def test_an_admin_adds_a_programme_and_names_its_lead(app, world):
    admin = _client(app, "admin@example.org")
    assert admin.post("/programmes/", data={"id": "Bad Id", "title": "X"}).status_code == 400
    added = admin.post(
        "/programmes/", data={"id": "nw-2027", "title": "North West", "year": "2027"}
    )
    assert added.status_code == 302
    with app.extensions["toolkit"].sessions() as db:
        lead_id = db.scalar(select(User.id).where(User.email == "fac.a@example.org"))
        version = db.get(Programme, "nw-2027").version
    saved = admin.post(
        "/programmes/nw-2027/edit",
        data={"title": "North West", "year": "2027", "leads": [str(lead_id)], "version": version},
    )
    assert saved.status_code == 302
    fac_a = _client(app, "fac.a@example.org")
    assert fac_a.get("/programmes/nw-2027").status_code == 200
    assert "North West" in fac_a.get("/programmes/").text


def test_a_lead_reads_the_programmes_sets_but_cannot_change_them(app, lead, world):
    assert lead.get("/sets/set-a").status_code == 200
    assert lead.get("/sets/set-b/map").status_code == 200
    assert lead.get("/sets/set-w").status_code == 404  # another programme's set
    assert lead.get("/sets/set-a/edit").status_code == 403
    with app.extensions["toolkit"].sessions() as db:
        meeting = db.scalar(select(Meeting).join(Meeting.learning_set).where(Meeting.title != ""))
        before = (meeting.version, meeting.status)
        refused = lead.post(
            f"/sets/{meeting.learning_set.slug}/sessions/{meeting.key}/status",
            data={"status": "cancelled", "reason": "no"},
        )
        assert refused.status_code == 403
        db.expire_all()
        assert (meeting.version, meeting.status) == before
    assert "Set A" in lead.get("/sets/").text and "Set W" not in lead.get("/sets/").text


def test_cli_lists_programmes_and_writes_the_report(app, world, runner, tmp_path):
    from toolkit.cli import main

    listed = runner.invoke(main, ["programmes", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output) == [
        {
            "id": "kss-2026",
            "title": "KSS Foundation 2026-27",
            "year": "2026-27",
            "sets": ["set-a", "set-b"],
        },
        {"id": "wessex", "title": "Wessex core", "year": "2026-27", "sets": ["set-w"]},
    ]
    out = tmp_path / "out"
    made = runner.invoke(main, ["report", "kss-2026", "--out", str(out)])
    assert made.exit_code == 0, made.output
    assert sorted(p.name for p in out.iterdir()) == [
        "attendance-summary.csv",
        "attendance.csv",
        "attendance.xlsx",
        "report.pdf",
    ]
    flat = re.sub(r"\s+", " ", _pdf_text((out / "report.pdf").read_bytes(), tmp_path))
    assert "80% (16 present of 20 recorded)" in flat
    rows = _csv_rows((out / "attendance.csv").read_bytes())
    assert len(rows) == 21 and sum(float(r["Hours"]) for r in rows) == sum(HOURS_ALL.values())
    book = openpyxl.load_workbook(out / "attendance.xlsx")
    assert book.sheetnames == ["Attendance", "Members"]

    unknown = runner.invoke(main, ["report", "nope", "--out", str(tmp_path / "none")])
    assert unknown.exit_code == 1 and "no programme 'nope'" in unknown.output
    assert not (tmp_path / "none").exists()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    refused = runner.invoke(main, ["report", "kss-2026", "--out", str(blocker / "out")])
    assert refused.exit_code == 1 and "nothing was written" in refused.output
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_the_admin_forms_refuse_bad_input_and_change_nothing(app, world):
    admin = _client(app, "admin@example.org")
    for data in (
        {"id": "x" * 200, "title": "T"},
        {"id": "fine-id", "title": "T" * 300},
        {"id": "fine-id", "title": "T", "year": "2" * 30},
        {"id": "kss-2026", "title": "Taken"},
        {"id": "fine\x00id", "title": "T"},
        {},
    ):
        assert admin.post("/programmes/", data=data).status_code == 400, data
    with app.extensions["toolkit"].sessions() as db:
        assert db.get(Programme, "fine-id") is None
        version = db.get(Programme, "kss-2026").version
    for data in ({"title": "T" * 300}, {"title": ""}, {"title": "Fine", "leads": ["x"]}):
        response = admin.post("/programmes/kss-2026/edit", data=data | {"version": version})
        assert response.status_code == 400, (data, response.status_code)
    with app.extensions["toolkit"].sessions() as db:
        programme = db.get(Programme, "kss-2026")
        assert programme.title == "KSS Foundation 2026-27" and programme.version == version
        assert [u.email for u in programme.leads] == ["lead@example.org"]
