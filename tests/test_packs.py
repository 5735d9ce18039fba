"""Printed documents: render real PDFs and read their text back."""

import html
import io
import logging
import re
import subprocess
from datetime import date, time, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader

from toolkit import db as database
from toolkit import sets
from toolkit.accounts import create_user
from toolkit.casebank import load_bank
from toolkit.config import REPO_ROOT
from toolkit.frameworks import load_frameworks
from toolkit.packs import (
    DOCUMENTS,
    NAMED_HANDOUTS,
    build_pack,
    document_names,
    render_all,
    render_document,
    render_pdf,
)
from toolkit.packs.render import StaticOnlyFetcher, cache_key
from toolkit.planning import local_start
from toolkit.session_templates import load_session_templates

MEMBERS = [
    ("Siobhán Ní Bhriain-Featherstonehaugh", "FY1"),
    ("Zoë Marsh", "FY2"),
    ("Łukasz Wiśniewski", "CT1"),
    ("Anaïs Dubois", "CT2"),
    ("Rhodri ap Siôn", "ST3"),
    ("Chidera Okonkwo-Hale", "ST4"),
    ("Tomás Ó Súilleabháin", "FY2"),
    ("Hana Nováková", "CT1"),
]
CASE = "the-stalled-sepsis-project"


def pdf_text(pdf: bytes) -> str:
    """All text of a PDF with whitespace collapsed, so wrapped lines compare as one."""
    reader = PdfReader(io.BytesIO(pdf))
    text = " ".join(page.extract_text() for page in reader.pages)
    return re.sub(r"\s+", " ", re.sub(r"-\s+", "-", text))


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[*_#`>\[\]]", "", text)).strip()


@pytest.fixture
def pack(env):
    """An 8-member session built from a template, with a case, prompts, attendance and actions."""
    factory = database.session_factory(database.make_engine(env.database_url))
    bank = load_bank(REPO_ROOT / "casebank")
    # the case-discussion template with a facilitator-only block (`handout: false`) at the end
    templates = load_session_templates(Path(__file__).parent / "data" / "session_templates")
    with database.transaction(factory) as db:
        owner = create_user(db, "fac@example.org", None, "Dr Facilitator")
        s = sets.create_set(db, owner, "set-a", "Set A", venue="Seminar Room 2")
        for n, (name, grade) in enumerate(MEMBERS):
            sets.add_member(db, s, name, f"m{n}@example.nhs.uk", grade)
        start = local_start(date(2027, 3, 25), time(14, 0), "Europe/London")
        template = templates["case-discussion-with-debrief"]
        first, second = sets.add_series(db, s, start, 2, 2, template)
        sets.attach(db, second, bank, case_id=CASE)
        for prompt in list(bank.prompts.values()):
            if prompt.stage in ("explore", "process-review"):
                sets.attach(db, second, bank, prompt_id=prompt.id)
        sets.add_action(db, first, s.members[0].id, "Shadow the bed manager for a shift")
        present = {m.id: "present" for m in s.members[:5]}
        after = second.starts_at + timedelta(hours=1)  # attendance waits for the start
        sets.record_attendance(db, second, present | {s.members[5].id: "apologies"}, now=after)
        built = build_pack(db, second, bank, load_frameworks(), now=after)
    return built


@pytest.fixture
def rendered(pack, tmp_path):
    return {doc.stem: doc for doc in render_all(pack, tmp_path / "cache")}


def test_every_document_is_a4_tagged_with_metadata(rendered):
    assert set(rendered) == set(DOCUMENTS) | {NAMED_HANDOUTS}
    for stem, doc in rendered.items():
        reader = PdfReader(io.BytesIO(doc.pdf))
        box = reader.pages[0].mediabox
        assert (round(float(box.width)), round(float(box.height))) == (595, 842), stem
        assert "/StructTreeRoot" in reader.trailer["/Root"], stem
        assert reader.trailer["/Root"]["/Lang"] == "en-GB"
        assert reader.metadata.title.startswith(DOCUMENTS.get(stem, DOCUMENTS["handout"]).title)
        assert reader.metadata.author == "Dr Facilitator"


def test_running_header_and_page_x_of_y(rendered):
    text = pdf_text(rendered["facilitator-pack"].pdf)
    pages = len(PdfReader(io.BytesIO(rendered["facilitator-pack"].pdf)).pages)
    assert pages >= 3
    assert f"Page 1 of {pages}" in text and f"Page {pages} of {pages}" in text
    assert text.count("Set A · Session 2:") >= pages


def test_agenda_times_and_case_scenario_in_pack_and_handout(rendered, pack):
    case = next(c for c in pack.cases)
    opening = squash(case.scenario)[:120]
    for stem in ("facilitator-pack", "handout"):
        text = pdf_text(rendered[stem].pdf)
        assert "14:00–14:10" in text and "15:55" in text, stem
        assert opening in text, stem
        assert case.questions[0] in text, stem


def test_facilitator_notes_only_in_the_facilitator_pack(rendered, pack):
    case = pack.cases[0]
    note_lines = [squash(line) for line in case.facilitator_notes.splitlines()]
    probes = [line[:60] for line in note_lines if len(line) > 60]
    block_notes = [row.notes[:50] for row in pack.agenda if row.notes]
    facilitator_prompts = [p.text for p in pack.prompts if p.audience == "facilitator"]
    assert probes and block_notes and facilitator_prompts
    facilitator = pdf_text(rendered["facilitator-pack"].pdf)
    assert any(p in facilitator for p in probes)
    assert all(n in facilitator for n in block_notes)
    for stem, doc in rendered.items():
        if stem == "facilitator-pack":
            continue
        text = pdf_text(doc.pdf)
        assert "Facilitator note" not in text, stem
        for probe in probes + block_notes + facilitator_prompts:
            assert probe not in text, (stem, probe)
            assert probe not in doc.html, (stem, probe)


DEBRIEF = "Facilitators' debrief on the room"


def test_a_facilitator_only_block_is_in_the_pack_and_on_no_handout(rendered, pack):
    """The template's `handout: false` block: timed in the facilitator pack and marked as not on
    the handout; absent, title and notes, from every participant document."""
    (row,) = [r for r in pack.agenda if not r.handout]
    assert row.title == DEBRIEF and (row.start, row.end) == ("15:55", "16:00")
    facilitator = pdf_text(rendered["facilitator-pack"].pdf)
    assert f"15:55–16:00 {DEBRIEF} FACILITATOR NOTE {row.notes[:40]}" in facilitator
    assert "Not on the participant handout" in facilitator
    assert row.notes[:40] in facilitator
    for stem in ("handout", NAMED_HANDOUTS, "sign-in", "reflection", "evaluation"):
        text = pdf_text(rendered[stem].pdf)
        assert "debrief" not in text.lower() and "debrief" not in rendered[stem].html.lower()
        assert "stayed quiet" not in text, stem
    handout = pdf_text(rendered["handout"].pdf)
    assert "15:50–15:55 Close and next date" in handout and "15:55–16:00" not in handout


def test_register_lists_every_member_with_grade(rendered):
    text = pdf_text(rendered["sign-in"].pdf)
    for name, grade in MEMBERS:
        assert name in text and grade in text


def test_certificates_only_for_members_marked_present(rendered, pack):
    text = pdf_text(rendered["certificates"].pdf)
    pages = len(PdfReader(io.BytesIO(rendered["certificates"].pdf)).pages)
    assert pages == 5
    for name, _grade in MEMBERS[:5]:
        assert name in text
    for name, _grade in MEMBERS[5:]:
        assert name not in text
    assert "2 hours of educational activity" in text
    assert "CPD" not in text and "credit" not in text  # portfolios record hours, not credits
    assert "Dr Facilitator" in text


def word_tops(pdf: bytes, page: int) -> dict[str, float]:
    """Where each word first appears on a page: its top, as a share of the page's height."""
    boxes = subprocess.run(
        ["pdftotext", "-bbox", "-f", str(page), "-l", str(page), "-", "-"],
        input=pdf,
        capture_output=True,
        check=True,
    ).stdout.decode()
    height = float(re.search(r'<page width="[\d.]+" height="([\d.]+)"', boxes).group(1))
    tops: dict[str, float] = {}
    for top, word in re.findall(r'<word [^>]*yMin="([\d.]+)"[^>]*>([^<]+)</word>', boxes):
        tops.setdefault(html.unescape(word), float(top) / height)
    return tops


def test_a_certificate_uses_its_page_with_the_signatures_at_the_foot(rendered):
    tops = word_tops(rendered["certificates"].pdf, 1)
    assert tops["Certificate"] < 0.2  # the title near the top
    assert 0.2 < tops[MEMBERS[0][0].split()[0]] < 0.6  # the name in the middle band
    assert tops["Signed"] > 0.75  # the signature lines at the foot


def test_named_handouts_one_copy_per_member(rendered):
    text = pdf_text(rendered[NAMED_HANDOUTS].pdf)
    for name, _grade in MEMBERS:
        assert f"Participant handout · {name}".upper() in text.upper()


def test_each_named_copy_numbers_its_own_pages_with_the_name_on_every_page(rendered):
    reader = PdfReader(io.BytesIO(rendered[NAMED_HANDOUTS].pdf))
    single = len(PdfReader(io.BytesIO(rendered["handout"].pdf)).pages)
    pages = [re.sub(r"\s+", " ", page.extract_text()) for page in reader.pages]
    assert len(pages) == single * len(MEMBERS)
    for n, (name, _grade) in enumerate(MEMBERS):
        copy = pages[n * single : (n + 1) * single]
        for number, text in enumerate(copy, start=1):
            assert f"Participant handout for {name}" in text, (name, number)
            assert f"Page {number} of {single}" in text, (name, number)
        others = [other for other, _ in MEMBERS if other != name]
        assert not any(other in text for other in others for text in copy), name


def ink_depth(pdf: bytes) -> list[float]:
    """For each page, how far down its body the lowest mark is (0 = top, 1 = foot), from a
    greyscale picture of the page; the running header and footer are left out."""
    pictures = subprocess.run(
        ["pdftoppm", "-r", "20", "-gray", "-"], input=pdf, capture_output=True, check=True
    ).stdout
    depths = []
    while pictures:
        header, _, rest = pictures.split(b"\n", 3)[:3], None, pictures.split(b"\n", 3)[3]
        width, height = map(int, header[1].split())
        pixels, pictures = rest[: width * height], rest[width * height :]
        top, foot = int(height * 0.07), int(height * 0.9)
        rows = [pixels[r * width : (r + 1) * width] for r in range(top, foot)]
        inked = [i for i, row in enumerate(rows) if min(row) < 220]  # faint rules count
        depths.append((inked[-1] + 1) / len(rows) if inked else 0.0)
    return depths


@pytest.mark.parametrize("stem", ["handout", "reflection", NAMED_HANDOUTS])
def test_no_mostly_empty_pages(rendered, stem):
    depths = ink_depth(rendered[stem].pdf)
    assert all(depth > 0.6 for depth in depths), depths


def test_writing_lines_fill_the_page_they_end_on(pack, tmp_path):
    from dataclasses import replace

    short = replace(pack, cases=(), prompts=(), prework=(), reading=())  # notes on page 1
    handout = render_document(short, "handout", tmp_path).pdf
    (tmp_path / "short.pdf").write_bytes(handout)
    assert ink_depth(handout)[-1] > 0.9


def test_no_certificates_without_attendance(env, pack):
    from dataclasses import replace

    from toolkit.packs import document_names

    assert "certificates" not in document_names(replace(pack, present=()))


def test_fetcher_serves_only_the_print_stylesheet(caplog):
    fetcher = StaticOnlyFetcher()
    css = (REPO_ROOT / "toolkit" / "packs" / "static" / "print.css").as_uri()
    assert b"@page" in fetcher.fetch(css).read()
    for url in ("file:///etc/passwd", "http://127.0.0.1:9/x.png", css + "/../../../cli.py"):
        with caplog.at_level(logging.WARNING), pytest.raises(ValueError):
            fetcher.fetch(url)
    assert caplog.text.count("blocked a resource") == 3


def test_hostile_case_markup_fetches_nothing(caplog):
    html = (
        '<html><head><link rel="stylesheet" href="print.css"></head><body><p>x</p>'
        '<img src="file:///etc/passwd"><img src="http://127.0.0.1:9/tracker.png">'
        '<link rel="stylesheet" href="file:///etc/hostname"></body></html>'
    )
    with caplog.at_level(logging.WARNING):
        pdf = render_pdf(html)
    assert pdf.startswith(b"%PDF")
    assert "blocked a resource outside the toolkit's print files: file:///etc/passwd" in caplog.text
    assert "http://127.0.0.1:9/tracker.png" in caplog.text
    assert b"root:x:0:0" not in pdf


def test_cache_returns_the_same_pdf_and_changes_with_the_html(tmp_path, pack, monkeypatch):
    from toolkit.packs import render as render_module

    first = render_document(pack, "sign-in", tmp_path)
    assert (tmp_path / f"set-{pack.set_id}" / f"{cache_key(first.html)}.pdf").exists()

    def no_weasyprint(*_args, **_kwargs):
        raise AssertionError("rendered again instead of using the cache")

    monkeypatch.setattr(render_module, "combined_pdf", no_weasyprint)
    assert render_document(pack, "sign-in", tmp_path).pdf == first.pdf
    with pytest.raises(AssertionError, match="rendered again"):
        render_pdf(first.html.replace("Sign-in register", "Register"), tmp_path)


def test_the_cache_key_changes_with_the_stylesheet_and_the_weasyprint_version(
    tmp_path, monkeypatch
):
    """A PDF cached before an upgrade of WeasyPrint or a change of print.css is never served."""
    from toolkit.packs import render as render_module

    html = "<html><body><p>Set A</p></body></html>"
    key = cache_key(html)
    assert len(key) == 64 and key == cache_key(html) and cache_key(html + " ") != key
    monkeypatch.setattr(render_module.weasyprint, "__version__", "0.1-another")
    assert cache_key(html) != key
    monkeypatch.undo()
    assert cache_key(html) == key
    static = tmp_path / "static"
    static.mkdir()
    stylesheet = (render_module.STATIC / "print.css").read_bytes()
    (static / "print.css").write_bytes(stylesheet + b"\n@page { margin: 1cm }\n")
    monkeypatch.setattr(render_module, "STATIC", static)
    assert cache_key(html) != key
    (static / "print.css").write_bytes(stylesheet)
    assert cache_key(html) == key


def test_a_changed_stylesheet_renders_again_instead_of_serving_the_old_pdf(tmp_path, monkeypatch):
    from toolkit.packs import render as render_module

    made: list[str] = []
    monkeypatch.setattr(
        render_module, "combined_pdf", lambda htmls, fetcher: made.extend(htmls) or b"%PDF"
    )
    html = "<p>x</p>"
    cache = tmp_path / "cache"
    render_pdf(html, cache)
    render_pdf(html, cache)
    assert len(made) == 1 and len(list(cache.glob("*.pdf"))) == 1
    monkeypatch.setattr(render_module.weasyprint, "__version__", "0.1-another")
    render_pdf(html, cache)
    assert len(made) == 2 and len(list(cache.glob("*.pdf"))) == 2


def test_the_self_assessment_sheet_is_printed_at_the_first_and_last_sessions_only(env):
    """Five sessions: the sheet goes with sessions 1 and 5 only."""
    factory = database.session_factory(database.make_engine(env.database_url))
    bank = load_bank(REPO_ROOT / "casebank")
    templates = load_session_templates(REPO_ROOT / "session_templates")
    with database.transaction(factory) as db:
        owner = create_user(db, "fac@example.org", None, "Dr Facilitator")
        s = sets.create_set(db, owner, "set-a", "Set A")
        sets.add_member(db, s, "Zoë Marsh", "zoe@example.nhs.uk", "FY2")
        start = local_start(date(2027, 3, 25), time(14, 0), "Europe/London")
        series = sets.add_series(db, s, start, 6, 5, templates["action-learning-set"])
        packs = [build_pack(db, m, bank, load_frameworks()) for m in series]
    assert [p.count for p in packs] == [5] * 5 and [p.number for p in packs] == [1, 2, 3, 4, 5]
    assert all(p.statements for p in packs)
    printed = ["self-assessment" in document_names(p) for p in packs]
    assert printed == [True, False, False, False, True]
    sheet = render_document(packs[-1], "self-assessment")
    assert sheet.pdf.startswith(b"%PDF") and packs[-1].statements[0][0] in pdf_text(sheet.pdf)
    with pytest.raises(KeyError):
        render_document(packs[0], "no-such-document")


def test_session_n_of_m_counts_only_sessions_that_will_happen(env, tmp_path):
    factory = database.session_factory(database.make_engine(env.database_url))
    bank = load_bank(REPO_ROOT / "casebank")
    templates = load_session_templates(REPO_ROOT / "session_templates")
    with database.transaction(factory) as db:
        owner = create_user(db, "fac@example.org", None, "Dr Facilitator")
        s = sets.create_set(db, owner, "set-b", "Set B")
        sets.add_member(db, s, "Zoë Marsh", "zoe@example.nhs.uk", "FY2")
        start = local_start(date(2027, 3, 25), time(14, 0), "Europe/London")
        meetings = sets.add_series(db, s, start, 2, 4, templates["case-discussion"])
        sets.set_status(db, meetings[1], "cancelled", "Strike day")
        last = build_pack(db, meetings[3], bank, load_frameworks())
        cancelled = build_pack(db, meetings[1], bank, load_frameworks())
    assert (last.number, last.count) == (3, 3)
    assert last.self_assessment  # the last session that happens has the closing sheet
    for stem in ("facilitator-pack", "handout"):
        text = pdf_text(render_document(last, stem, tmp_path).pdf)
        assert "Session 3 of 3:" in text, stem
        assert "of 4" not in text, stem
    assert (cancelled.number, cancelled.count) == (2, 4)  # as it was when it was on


def test_the_printed_evaluation_asks_the_online_forms_questions(rendered):
    from toolkit.evaluations import QUESTIONS, SCALE

    text = squash(pdf_text(rendered["evaluation"].pdf))
    for question in QUESTIONS:
        assert squash(question.text) in text, question.text
    for point in SCALE:
        assert squash(point) in text
