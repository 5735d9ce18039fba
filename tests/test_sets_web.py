"""The facilitator's journey through a learning set, over HTTP with the real app and database."""

import html
import io
import re
import zipfile
from datetime import date, timedelta

import pytest
import yaml
from sqlalchemy import select

from toolkit.casebank import load_bank
from toolkit.config import REPO_ROOT
from toolkit.frameworks import load_frameworks
from toolkit.models import Action, Meeting

from .conftest import add_user, sign_in

MEMBERS = [
    ("Zoë Marsh", "zoe@example.nhs.uk", "FY2"),
    ("Łukasz Nowak", "lukasz@example.nhs.uk", "CT1"),
    ("Siobhán Kelly", "siobhan@example.nhs.uk", "ST3"),
    ("Amara Okafor", "amara@example.nhs.uk", "FY1"),
    ("Tom Reid", "tom@example.nhs.uk", "CT2"),
    ("Priya Shah", "priya@example.nhs.uk", "ST4"),
]

BANK = load_bank(REPO_ROOT / "casebank")


def text(response) -> str:
    return html.unescape(response.text)


def days_ago(days: int) -> str:
    """A date in the past, for sessions whose attendance can be recorded."""
    return (date.today() - timedelta(days=days)).isoformat()


def make_set(client, slug: str = "set-a", first: str = "2027-02-11") -> None:
    response = client.post(
        "/sets/new",
        data={"title": "Set A", "slug": slug, "time_zone": "Europe/London", "venue": "Room 2"},
    )
    assert response.status_code == 302, response.text
    for name, email, grade in MEMBERS:
        added = client.post(
            f"/sets/{slug}/members",
            data={"member-name": name, "member-email": email, "member-grade": grade},
        )
        assert added.status_code == 302
    scheduled = client.post(
        f"/sets/{slug}/schedule",
        data={
            "series-first_date": first,
            "series-start_time": "14:00",
            "series-every_weeks": "6",
            "series-count": "6",
            "series-template": "action-learning-set",
        },
    )
    assert scheduled.status_code == 302


@pytest.fixture
def db(app):
    """A database session the test can read through (expired before each read)."""
    with app.extensions["toolkit"].sessions() as session:
        yield session


def meetings(db, slug: str = "set-a") -> list[Meeting]:
    db.expire_all()
    rows = db.scalars(select(Meeting).order_by(Meeting.starts_at)).all()
    return [m for m in rows if m.learning_set.slug == slug]


def test_set_size_warning_and_schedule_across_clock_change(app, db, signed_in):
    signed_in.post(
        "/sets/new", data={"title": "Small", "slug": "small", "time_zone": "Europe/London"}
    )
    assert "learning sets usually work best with 4 to 8" in text(signed_in.get("/sets/small"))
    make_set(signed_in)
    page = text(signed_in.get("/sets/set-a"))
    assert "usually work best" not in page
    # 11 Feb + 6-weekly: 25 Mar (GMT), 6 May (BST) ... all at 14:00 local
    assert page.count("14:00 to 17:15") == 6
    assert "Thu 25 Mar 2027, 14:00" in page and "Thu 6 May 2027, 14:00" in page
    offsets = [m.starts_at.hour for m in meetings(db)]
    assert offsets[:3] == [14, 14, 13]  # UTC hours: the clocks went forward on 28 March


def test_build_first_session(app, db, signed_in):
    make_set(signed_in)
    first = meetings(db)[0]
    url = f"/sets/set-a/sessions/{first.key}"
    page = text(signed_in.get(url))
    assert "14:00–14:15" in page and "Check-in" in page
    assert "Presenter round 3" in page
    # the set's first session has no earlier actions to review
    assert "Review of actions" not in page
    assert "The agenda fits the 195-minute slot with 25 min to spare" in page
    # the rota proposed the first three members
    assert "Proposed, so everyone presents before anyone presents twice" in page
    assert "presenter: Zoë Marsh" in page and "presenter: Siobhán Kelly" in page
    # find and attach a case, and a suggested prompt
    found = text(signed_in.get(url + "?q=sepsis"))
    assert "The stalled sepsis project" in found
    signed_in.post(url + "/attach", data={"case": "the-stalled-sepsis-project", "do": "attach"})
    page = text(signed_in.get(url))
    suggested = re.findall(r'name="prompt" value="([a-z0-9-]+)"', page)
    assert suggested
    signed_in.post(url + "/attach", data={"prompt": suggested[0], "do": "attach"})
    m = meetings(db)[0]
    assert [c.case_id for c in m.cases] == ["the-stalled-sepsis-project"]
    assert [p.prompt_id for p in m.prompts] == [suggested[0]]
    # override the rota: Priya presents in round 1
    rounds = [b for b in first.blocks if b.kind == "presenter"]
    priya = next(m.id for m in first.learning_set.members if m.name == "Priya Shah")
    signed_in.post(url + "/rota", data={f"presenter-{rounds[0].id}": str(priya)})
    assert "presenter: Priya Shah" in text(signed_in.get(url))


def test_overrun_is_flagged_with_where_and_how_much(app, db, signed_in):
    make_set(signed_in)
    url = f"/sets/set-a/sessions/{meetings(db)[1].key}"
    response = signed_in.post(
        url + "/blocks",
        data={"block-title": "Guest talk", "block-kind": "input", "block-minutes": "25"},
    )
    assert response.status_code == 302
    page = text(signed_in.get(url))
    assert "The agenda runs 20 min over the slot" in page
    assert "end at 17:35 instead of 17:15" in page
    assert "'Guest talk' is the first block that ends late" in page
    guest = next(b for b in meetings(db)[1].blocks if b.title == "Guest talk")
    signed_in.post(
        url + f"/blocks/{guest.id}", data={"do": "save", "title": "Guest talk", "minutes": "5"}
    )
    assert "over the slot" not in text(signed_in.get(url))


def test_bad_block_input_is_a_form_error(app, db, signed_in):
    make_set(signed_in)
    url = f"/sets/set-a/sessions/{meetings(db)[0].key}"
    response = signed_in.post(
        url + "/blocks", data={"block-title": "", "block-kind": "input", "block-minutes": "x"}
    )
    assert response.status_code == 400
    assert "There is a problem" in response.text and 'href="#block-title"' in response.text
    block = meetings(db)[0].blocks[0]
    refused = signed_in.post(
        url + "/agenda", data={"do": "save", f"title-{block.id}": "X", f"minutes-{block.id}": "-3"}
    )
    assert refused.status_code == 400 and "minutes must be a whole number" in text(refused)
    kept = f'id="minutes-{block.id}" name="minutes-{block.id}" value="-3"'  # kept as typed
    assert kept in refused.text


def test_attendance_and_actions_carry_forward(app, db, signed_in):
    make_set(signed_in)
    first, second = meetings(db)[:2]
    zoe, lukasz = (m.id for m in first.learning_set.members[:2])
    url1 = f"/sets/set-a/sessions/{first.key}"
    signed_in.post(url1 + "/apologies", data={"apologies": str(lukasz)})
    signed_in.post(
        url1 + "/actions",
        data={
            "action-member": str(zoe),
            "action-text": "Talk to the ward manager about handover",
            "action-due": "March",
        },
    )
    page2 = text(signed_in.get(f"/sets/set-a/sessions/{second.key}"))
    assert "Talk to the ward manager about handover" in page2.split('id="review"')[1]
    # Łukasz sent apologies to session 1, so the rota gave his round there to Amara and moved
    # him to session 2, with the others who have not presented yet (Tom and Priya)
    assert "presenter: Łukasz Nowak" in page2 and "presenter: Amara Okafor" not in page2
    action = db.scalars(select(Action)).one()
    signed_in.post(
        f"/sets/set-a/actions/{action.id}", data={"status": "done", "outcome": "Agreed a template"}
    )
    assert (
        "Talk to the ward manager"
        not in text(signed_in.get(f"/sets/set-a/sessions/{second.key}"))
        .split('id="review"')[1]
        .split('id="attendance"')[0]
    )
    log = text(signed_in.get("/sets/set-a/actions"))
    assert "Agreed a template" in log


def test_move_cancel_restore_bump_sequence_and_record_changes(app, db, signed_in):
    make_set(signed_in)
    second = meetings(db)[1]
    url = f"/sets/set-a/sessions/{second.key}"
    moved = signed_in.post(
        url + "/details",
        data={
            "details-version": str(second.version),
            "details-title": second.title,
            "details-date": "2027-03-26",
            "details-start_time": "10:00",
            "details-minutes": "195",
            "details-venue": "Room 2",
        },
    )
    assert moved.status_code == 302
    signed_in.post(url + "/status", data={"status": "cancelled"})
    signed_in.post(url + "/status", data={"status": "scheduled"})
    after = next(m for m in meetings(db) if m.id == second.id)
    assert after.uid == second.uid and after.key == second.key
    assert after.sequence == 3
    assert [c.field for c in after.changes] == ["start", "venue", "status", "status"]
    assert "Fri 26 Mar 2027, 10:00" in text(signed_in.get(url))


def test_programme_map_shows_gaps_and_coverage(app, db, signed_in):
    make_set(signed_in)
    first = meetings(db)[0]
    signed_in.post(
        f"/sets/set-a/sessions/{first.key}/attach",
        data={"case": "the-stalled-sepsis-project", "do": "attach"},
    )
    prompt = next(p for p in BANK.prompts.values() if p.tags.hlm and p.tags.mlcf and p.tags.gpc)
    third = meetings(db)[2]
    signed_in.post(
        f"/sets/set-a/sessions/{third.key}/attach", data={"prompt": prompt.id, "do": "attach"}
    )
    page = text(signed_in.get("/sets/set-a/map"))
    case = BANK.cases["the-stalled-sepsis-project"]
    frameworks = load_frameworks()
    for key, caption, areas in (
        ("hlm", "Healthcare Leadership Model", frameworks.hlm.areas),
        ("mlcf", "Medical Leadership Competency Framework", frameworks.mlcf.top_level()),
        ("gpc", "GMC Generic Professional Capabilities", frameworks.gpc.areas),
    ):
        expected = {}
        for area in areas:
            tagged = [{t.split(".")[0] for t in getattr(item.tags, key)} for item in (case, prompt)]
            counts = [1 if area.id in tagged[0] else 0, 0, 1 if area.id in tagged[1] else 0]
            cells = [str(n) if n else "·" for n in counts] + ["·"] * 3
            gap = " Gap" if not sum(counts) else ""
            expected[area.label + gap] = [*cells, str(sum(counts))]
        assert map_table(page, caption) == expected
        # the heat map's cells say the same, session by session
        for area in areas:
            for number, count in enumerate(
                expected[next(k for k in expected if k.startswith(area.label))][:6]
            ):
                n = 0 if count == "·" else int(count)
                cell = f"<title>Session {number + 1}, {area.label}: {n}</title>"
                assert cell in page, cell
    assert any(v[-1] == "0" for v in map_table(page, "Healthcare Leadership Model").values())


def map_table(page: str, caption: str) -> dict[str, list[str]]:
    """One table of the programme map: row label (with " Gap") -> its cells, then the total."""
    table = page.split(f'<caption class="nhsuk-table__caption">{caption}</caption>')[1]
    table = table.split("</table>")[0]
    rows = {}
    for row in re.findall(r'<tr class="nhsuk-table__row">(.*?)</tr>', table, re.S)[1:]:
        label = re.sub(r"<[^>]+>", "", re.search(r'<th scope="row"[^>]*>(.*?)</th>', row, re.S)[1])
        rows[" ".join(label.split())] = re.findall(r"<td[^>]*>(.*?)</td>", row)
    return rows


@pytest.mark.parametrize(
    "path",
    [
        "/sets/set-a",
        "/sets/set-a/edit",
        "/sets/set-a/actions",
        "/sets/set-a/map",
    ],
)
def test_other_facilitators_cannot_see_a_set(app, db, client, signed_in, path):
    make_set(signed_in)
    other = app.test_client()
    sign_in(other, add_user(app, "other@example.org"))
    assert other.get(path).status_code == 404
    assert "Set A" not in other.get("/sets/").text
    admin = app.test_client()
    sign_in(admin, add_user(app, "admin@example.org", admin=True))
    assert admin.get(path).status_code == 200


def test_other_facilitators_cannot_change_a_set(app, db, signed_in):
    make_set(signed_in)
    first = meetings(db)[0]
    other = app.test_client()
    sign_in(other, add_user(app, "other@example.org"))
    base = f"/sets/set-a/sessions/{first.key}"
    for path, data in [
        (base, None),
        (base + "/status", {"status": "cancelled"}),
        (base + "/attendance", {}),
        (base + "/blocks", {"block-title": "x", "block-kind": "input", "block-minutes": "5"}),
        (base + f"/blocks/{first.blocks[0].id}", {"do": "remove"}),
        (base + "/rota", {"do": "propose"}),
        (base + "/attach", {"case": "the-stalled-sepsis-project"}),
        (base + "/actions", {"action-text": "x"}),
        ("/sets/set-a/members", {"member-name": "Eve", "member-email": "eve@example.org"}),
        ("/sets/set-a/schedule", {}),
        ("/sets/set-a/ground-rules", {"ground_rules": "none"}),
    ]:
        response = other.get(path) if data is None else other.post(path, data=data)
        assert response.status_code == 404, path
    assert meetings(db)[0].status == "scheduled"


def test_upload_and_download_a_learning_set_file(app, db, signed_in):
    from toolkit.config import REPO_ROOT

    text_of_example = (REPO_ROOT / "examples" / "learning-set.yaml").read_text("utf-8")
    # a facilitator may name only themselves as the set's facilitator
    example = text_of_example.replace("s.oneil@example.nhs.uk", "fac@example.org").encode()
    response = signed_in.post(
        "/sets/import",
        data={"file": (io.BytesIO(example), "learning-set.yaml")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.text
    slug = response.headers["Location"].rsplit("/", 1)[-1]
    page = text(signed_in.get(f"/sets/{slug}"))
    assert page.count("14:00 to") == 6
    download = signed_in.get(f"/sets/{slug}/export")
    assert download.headers["Content-Disposition"] == f'attachment; filename="{slug}.yaml"'
    exported = yaml.safe_load(download.data)
    assert exported["id"] == slug and len(exported["sessions"]) == 6
    before = [m.sequence for m in meetings(db, slug)]
    again = signed_in.post(
        "/sets/import",
        data={"file": (io.BytesIO(download.data), "again.yaml")},
        content_type="multipart/form-data",
    )
    assert again.status_code == 302
    assert [m.sequence for m in meetings(db, slug)] == before  # nothing changed, no bump
    # another facilitator may not overwrite it by uploading the same id
    other = app.test_client()
    sign_in(other, add_user(app, "other@example.org"))
    theirs = text_of_example.replace("s.oneil@example.nhs.uk", "other@example.org").encode()
    refused = other.post(
        "/sets/import",
        data={"file": (io.BytesIO(theirs), "learning-set.yaml")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 400
    assert "is not yours to change" in text(refused)
    assert other.get(f"/sets/{slug}/export").status_code == 404


def test_upload_of_a_bad_file_lists_problems_and_changes_nothing(app, db, signed_in):
    from .conftest import DATA

    bad = (DATA / "setfiles" / "many-problems.yaml").read_bytes()
    response = signed_in.post(
        "/sets/import",
        data={"file": (io.BytesIO(bad), "mine.yaml")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    page = text(response)
    assert "nothing was changed" in page
    assert re.search(r"mine\.yaml:\d+: ", page)
    assert "/tmp" not in page
    assert meetings(db, "anything") == [] and db.scalars(select(Meeting)).all() == []


def test_print_downloads_preview_and_zip(app, db, signed_in):
    make_set(signed_in)
    first = meetings(db)[0]
    base = f"/sets/set-a/sessions/{first.key}/print"
    page = text(signed_in.get(f"/sets/set-a/sessions/{first.key}"))
    assert "Facilitator pack (PDF)" in page and "Certificates appear once attendance" in page
    pdf = signed_in.get(f"{base}/handout.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert (
        pdf.headers["Content-Disposition"] == 'attachment; filename="set-a-session-1-handout.pdf"'
    )
    preview = text(signed_in.get(f"{base}/handout.html"))
    assert "Presenter round 1" in preview and "FACILITATOR NOTE" not in preview.upper()
    assert "Facilitator note" in text(signed_in.get(f"{base}/facilitator-pack.html"))
    assert signed_in.get(f"{base}/print.css").data.startswith(b"/* The one print stylesheet")
    assert signed_in.get(f"{base}/certificates.pdf").status_code == 404  # no attendance yet
    assert signed_in.get(f"{base}/passwd.pdf").status_code == 404
    archive = zipfile.ZipFile(io.BytesIO(signed_in.get(f"{base}/all.zip").data))
    assert "set-a-session-1/facilitator-pack.pdf" in archive.namelist()
    other = app.test_client()
    sign_in(other, add_user(app, "other@example.org"))
    assert other.get(f"{base}/handout.pdf").status_code == 404
    assert other.get(f"{base}/all.zip").status_code == 404
