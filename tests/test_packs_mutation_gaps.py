"""Packs' files, cache and rendering around WeasyPrint: behaviour pinned for mutation testing
(scripts/mutation.py) without laying out PDFs, which test_packs.py does at some 15 s a test.
A document's PDF comes from the set's cache folder when the same HTML was rendered before, so
the zip is tested on PDFs placed in that cache."""

from __future__ import annotations

import io
import logging
import resource
import signal
import tempfile
import zipfile
from dataclasses import replace
from datetime import UTC, date, datetime, time
from hashlib import sha256

import pytest
import weasyprint
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
    STATIC,
    Person,
    Rendered,
    build_pack,
    document_html,
    document_names,
    forget_set,
    render_all,
    render_document,
    render_html,
    render_pdf,
    write_all,
    zip_stream,
)
from toolkit.packs.cache import read_cached, set_folder, store
from toolkit.packs.files import available
from toolkit.packs.render import (
    COPY_END,
    COPY_START,
    StaticOnlyFetcher,
    bare_pdf,
    cache_key,
    split_copies,
)
from toolkit.planning import local_start
from toolkit.session_templates import load_session_templates

BANK = load_bank(REPO_ROOT / "casebank")
TEMPLATE = load_session_templates(REPO_ROOT / "session_templates")["action-learning-set"]
EVERY = list(DOCUMENTS)
NOTE = "Facilitator only: watch the time in round two"


@pytest.fixture
def pack(env):
    """The pack of session 1 of 3 of a set in London with two members (nobody present yet)."""
    factory = database.session_factory(database.make_engine(env.database_url))
    with database.transaction(factory) as db:
        owner = create_user(db, "fac@example.org", None, "Dr Facilitator")
        learning_set = sets.create_set(db, owner, "set-a", "Set A", time_zone="Europe/London")
        sets.add_member(db, learning_set, "Ann Avery", "ann@example.nhs.uk", "FY1")
        sets.add_member(db, learning_set, "Ben Bose", "ben@example.nhs.uk", "FY2")
        start = local_start(date(2027, 3, 25), time(14, 0), "Europe/London")
        first, _, _ = sets.add_series(db, learning_set, start, 2, 3, TEMPLATE)
        sets.add_block(db, first, "Round-up", "close", 5, notes=NOTE, handout=True)
        return build_pack(db, first, BANK, load_frameworks(), now=start)


def test_each_document_appears_only_when_the_session_has_what_it_prints():
    assert available(False, False, False) == [
        "facilitator-pack",
        "handout",
        "sign-in",
        "reflection",
        "evaluation",
        "ground-rules",
    ]
    assert available(True, False, False) == [*available(False, False, False), "certificates"]
    assert available(False, True, False) == [*available(False, False, False), "self-assessment"]
    assert available(True, True, True) == [*EVERY, NAMED_HANDOUTS]
    assert EVERY[-2:] == ["certificates", "self-assessment"]


def test_a_pack_s_documents_follow_its_presence_statements_and_members(pack):
    assert pack.self_assessment and pack.members and not pack.present
    assert document_names(pack) == [n for n in EVERY if n != "certificates"] + [NAMED_HANDOUTS]
    present = replace(pack, present=(Person("Ann Avery", "FY1"),))
    assert document_names(present) == [*EVERY, NAMED_HANDOUTS]
    assert document_names(replace(pack, members=(), statements=())) == EVERY[:6]


def test_participant_documents_leave_out_the_facilitator_s_notes(pack):
    assert [d.name for d in DOCUMENTS.values() if not d.participant] == ["facilitator-pack"]
    assert DOCUMENTS["handout"].title == "Participant handout"
    assert NOTE in document_html(pack, "facilitator-pack")
    for stem in ("handout", "sign-in", "reflection", NAMED_HANDOUTS):
        assert NOTE not in document_html(pack, stem)
    assert document_html(pack, "handout") == render_html("handout", pack)


def test_named_handouts_are_one_marked_copy_per_member_each_with_its_name(pack):
    named = document_html(pack, NAMED_HANDOUTS)
    copies = split_copies(named)
    assert len(copies) == 2 and named.count(COPY_START) == 2
    assert "Participant handout for Ann Avery" in copies[0]
    assert "Participant handout for Ben Bose" not in copies[0]
    assert "Participant handout for Ben Bose" in copies[1]
    plain = document_html(pack, "handout")
    assert COPY_START not in plain and " for Ann Avery" not in plain
    with pytest.raises(KeyError):
        document_html(pack, "minutes")


def test_copies_are_cut_out_whole_with_the_head_and_tail_around_each():
    assert split_copies("<p>one document</p>") == ["<p>one document</p>"]
    html = f"<head>{COPY_START}<p>A</p>{COPY_END}\n{COPY_START}<p>B</p>{COPY_END}<tail>"
    assert split_copies(html) == ["<head><p>A</p><tail>", "<head><p>B</p><tail>"]
    unclosed = f"H{COPY_START}<p>D</p>"
    assert split_copies(unclosed) == ["H<p>D</p>"]


def test_the_cache_key_changes_with_the_html_the_stylesheet_and_weasyprint():
    digest = sha256(weasyprint.__version__.encode())
    digest.update((STATIC / "print.css").read_bytes())
    digest.update("<p>Zoë</p>".encode())
    assert cache_key("<p>Zoë</p>") == digest.hexdigest()
    assert cache_key("<p>Zoe</p>") != cache_key("<p>Zoë</p>")


def _cached(pack, cache_dir, stems):
    """Put a stand-in PDF in the set's cache for each document, as an earlier render would."""
    folder = set_folder(cache_dir, pack.set_id)
    folder.mkdir(parents=True)
    made = {}
    for stem in stems:
        made[stem] = f"%PDF-1.7 stand-in for {stem}\n".encode() * 50
        (folder / f"{cache_key(document_html(pack, stem))}.pdf").write_bytes(made[stem])
    return made


def test_a_document_rendered_before_comes_from_its_set_s_cache(pack, tmp_path):
    assert set_folder(tmp_path, 7) == tmp_path / "set-7"
    made = _cached(pack, tmp_path, ["sign-in"])
    assert render_document(pack, "sign-in", tmp_path) == Rendered(
        "sign-in", document_html(pack, "sign-in"), made["sign-in"]
    )
    html = document_html(pack, "sign-in")
    assert render_pdf(html, set_folder(tmp_path, pack.set_id)) == made["sign-in"]


def test_the_zip_holds_every_document_dated_on_the_set_s_clock_and_streams(pack, tmp_path):
    made = _cached(pack, tmp_path, document_names(pack))
    now = datetime(2027, 7, 1, 11, 30, 6, tzinfo=UTC)  # 12:30:06 in London (BST)
    chunks = list(zip_stream(pack, "set-a-session-1", tmp_path, now=now))
    assert len(chunks) == len(made) + 1 and all(chunks[:-1])  # one piece per document, then the end
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert archive.namelist() == [f"set-a-session-1/{stem}.pdf" for stem in made]
    for info in archive.infolist():
        assert info.date_time == (2027, 7, 1, 12, 30, 6)
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert archive.read(info) == made[info.filename.split("/")[1].removesuffix(".pdf")]


def test_documents_are_written_as_pdfs_and_on_request_their_html(tmp_path):
    docs = [Rendered("handout", "<p>Zoë</p>", b"%PDF one"), Rendered("sign-in", "<p>b</p>", b"2")]
    folder = tmp_path / "out" / "session-1"
    assert write_all(docs, folder) == [folder / "handout.pdf", folder / "sign-in.pdf"]
    assert (folder / "handout.pdf").read_bytes() == b"%PDF one"
    assert not (folder / "handout.html").exists()
    both = write_all(docs, tmp_path / "both", with_html=True)
    assert [p.name for p in both] == ["handout.pdf", "handout.html", "sign-in.pdf", "sign-in.html"]
    assert (tmp_path / "both" / "handout.html").read_text("utf-8") == "<p>Zoë</p>"


def test_printed_documents_fetch_only_the_toolkit_s_own_print_files(tmp_path, caplog):
    fetcher = StaticOnlyFetcher()
    css = STATIC / "print.css"
    served = fetcher.fetch(css.as_uri() + "?v=2")  # a query string does not hide the file
    assert (served.url, served.content_type) == (css.as_uri() + "?v=2", "text/css")
    assert served.read() == css.read_bytes()
    for kind, mime in ((".svg", "image/svg+xml"), (".png", "image/png"), (".woff", None)):
        assert _mime_of(kind) == (mime or "application/octet-stream")
    outside = tmp_path / "print.css"
    outside.write_text("p { color: red }")
    for url in (
        outside.as_uri(),
        "https://example.org/print.css",
        (STATIC / "missing.css").as_uri(),
        (STATIC.parent / "__init__.py").as_uri(),
    ):
        with caplog.at_level(logging.WARNING), pytest.raises(ValueError) as refused:
            fetcher.fetch(url)
        assert str(refused.value) == f"resource not allowed in printed documents: {url}"
        assert url in caplog.text


def _mime_of(suffix: str) -> str:
    from toolkit.packs.render import _mime

    return _mime(STATIC / f"x{suffix}")


def test_the_cache_reads_nothing_for_a_missing_or_unreadable_pdf(tmp_path, caplog):
    assert read_cached(tmp_path / "none.pdf") is None
    (tmp_path / "file").write_bytes(b"x")
    assert read_cached(tmp_path / "file" / "under-a-file.pdf") is None
    (tmp_path / "a-folder.pdf").mkdir()
    with caplog.at_level(logging.WARNING):
        assert read_cached(tmp_path / "a-folder.pdf") is None
    assert "cannot read the cached PDF" in caplog.text
    path = tmp_path / "set-1" / "k.pdf"
    assert store(path, b"%PDF stored") is True
    assert read_cached(path) == b"%PDF stored"
    assert sorted(p.name for p in path.parent.iterdir()) == ["k.pdf"]  # no temporary file left


def test_forgetting_a_set_removes_its_folder_and_loose_pdfs_only(tmp_path):
    assert forget_set(tmp_path / "no-cache-yet", 1) is True
    for set_id in (1, 2):
        store(set_folder(tmp_path, set_id) / "k.pdf", b"%PDF")
    (tmp_path / "old.pdf").write_bytes(b"%PDF loose")
    (tmp_path / "old.tmp").write_bytes(b"half")
    (tmp_path / "notes.txt").write_text("kept")
    (tmp_path / "folder.pdf").mkdir()  # not a file: left alone
    assert forget_set(tmp_path, 1) is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.pdf", "notes.txt", "set-2"]
    assert (set_folder(tmp_path, 2) / "k.pdf").exists()


@pytest.mark.parametrize("workers", [1, 2, None])
def test_every_document_is_rendered_in_order_whatever_the_number_of_workers(
    pack, tmp_path, workers
):
    made = _cached(pack, tmp_path, document_names(pack))
    rendered = render_all(pack, tmp_path, workers=workers)
    assert [r.stem for r in rendered] == list(made)
    assert [r.pdf for r in rendered] == list(made.values())
    assert [r.html for r in rendered] == [document_html(pack, stem) for stem in made]


def test_documents_are_written_again_into_the_same_folder(tmp_path):
    docs = [Rendered("handout", "<p>Zoë</p>", b"%PDF one")]
    write_all(docs, tmp_path / "out", with_html=True)
    docs = [Rendered("handout", "<p>Zoë again</p>", b"%PDF two")]
    assert write_all(docs, tmp_path / "out", with_html=True)[0].read_bytes() == b"%PDF two"
    assert (tmp_path / "out" / "handout.html").read_bytes() == "<p>Zoë again</p>".encode()


def test_the_benchmark_s_bare_pdf_is_tagged_and_uses_the_fetcher_it_is_given(tmp_path, caplog):
    outside = tmp_path / "logo.svg"
    outside.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>')
    html = f'<html lang="en-GB"><p>Hello</p><img src="{outside.as_uri()}"></html>'
    catalog = PdfReader(io.BytesIO(bare_pdf('<html lang="en-GB"><p>Hello</p></html>'))).root_object
    assert "/StructTreeRoot" in catalog and catalog["/MarkInfo"]["/Marked"]
    with caplog.at_level(logging.WARNING):
        bare_pdf(html, StaticOnlyFetcher())
    assert f"blocked a resource outside the toolkit's print files: {outside.as_uri()}" in (
        caplog.text
    )


def test_what_facilitators_typed_is_printed_as_text_never_as_markup(pack):
    typed = replace(pack, set_title='Q&A <img src="https://example.org/x.png"> set')
    for stem in ("facilitator-pack", "handout", NAMED_HANDOUTS):
        html = document_html(typed, stem)
        assert "Q&amp;A &lt;img src=&#34;https://example.org/x.png&#34;&gt; set" in html
        assert '<img src="https://example.org/x.png">' not in html


def test_a_set_s_cache_that_cannot_be_removed_is_reported_not_hidden(tmp_path, caplog):
    (tmp_path / "set-1").write_bytes(b"not a folder")  # rmtree refuses it
    with caplog.at_level(logging.WARNING):
        assert forget_set(tmp_path, 1) is False
    assert f"could not remove the cached PDFs in {tmp_path / 'set-1'} (" in caplog.text


def test_a_cache_that_cannot_be_written_says_where_and_why_and_leaves_nothing(tmp_path, caplog):
    (tmp_path / "set-1").write_bytes(b"a file where the set's folder should be")
    with caplog.at_level(logging.WARNING):
        assert store(tmp_path / "set-1" / "k.pdf", b"%PDF") is False
    assert caplog.messages[-1].startswith(
        f"could not keep the PDF in the cache at {tmp_path / 'set-1'} ([Errno 20] Not a directory"
    )
    # a disk that fills mid-write: no file may grow past 2 KiB for the moment of the write
    path = tmp_path / "set-2" / "k.pdf"
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a signal
    resource.setrlimit(resource.RLIMIT_FSIZE, (2048, hard))
    try:
        written = store(path, b"%PDF" + b"x" * 4096)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert written is False
    assert list(path.parent.iterdir()) == []  # the partial file was removed


def test_the_cache_writes_beside_its_pdfs_not_in_the_system_s_temporary_folder(
    tmp_path, monkeypatch
):
    """Else replacing the PDF would cross file systems wherever /tmp is one of its own."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-folder"))
    path = tmp_path / "cache" / "set-1" / "k.pdf"
    assert store(path, b"%PDF") is True and path.read_bytes() == b"%PDF"


def test_unreadable_and_unremovable_caches_are_logged_with_the_reason(tmp_path, caplog):
    (tmp_path / "a-folder.pdf").mkdir()
    (tmp_path / "set-1").write_bytes(b"not a folder")
    with caplog.at_level(logging.WARNING):
        assert read_cached(tmp_path / "a-folder.pdf") is None
        assert forget_set(tmp_path, 1) is False
    folder, file = tmp_path / "a-folder.pdf", tmp_path / "set-1"
    assert caplog.messages == [
        f"cannot read the cached PDF {folder} ([Errno 21] Is a directory: '{folder}'):"
        " rendering it again",
        f"could not remove the cached PDFs in {file} ([Errno 20] Not a directory: {file!r})",
    ]


def test_a_document_is_rendered_without_a_cache_when_none_is_given(pack, tmp_path):
    made = _cached(pack, tmp_path, ["sign-in"])  # in the set's folder, so not found without it
    rendered = render_document(pack, "sign-in")
    assert rendered.stem == "sign-in" and rendered.pdf != made["sign-in"]
    assert rendered.pdf.startswith(b"%PDF")


def test_the_zip_s_directory_points_at_its_entries_from_the_first_byte(pack, tmp_path):
    """Offsets count from 0, so strict readers (not only Python's, which forgives a shift) find
    each entry where the central directory says."""
    _cached(pack, tmp_path, document_names(pack))
    data = b"".join(zip_stream(pack, "set-a-session-1", tmp_path))
    end = data.rindex(b"PK\x05\x06")
    directory = int.from_bytes(data[end + 16 : end + 20], "little")
    assert data[directory : directory + 4] == b"PK\x01\x02"
    first = int.from_bytes(data[directory + 42 : directory + 46], "little")
    assert first == 0 and data[:4] == b"PK\x03\x04"


def test_participant_documents_leave_out_blocks_for_the_facilitator_only(pack):
    """The templates print each agenda row they are given; the pack they get has none of the
    facilitator's own (handout: false) blocks."""
    huddle = replace(pack.agenda[-1], title="Huddle for the facilitators", handout=False)
    whole = replace(pack, agenda=(*pack.agenda, huddle))
    assert "Huddle for the facilitators" in document_html(whole, "facilitator-pack")
    for stem in ("handout", NAMED_HANDOUTS):
        assert "Huddle for the facilitators" not in document_html(whole, stem)


def test_a_pdf_of_a_document_fetches_only_the_toolkit_s_own_print_files(tmp_path, caplog):
    outside = tmp_path / "logo.svg"
    outside.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>')
    with caplog.at_level(logging.WARNING):
        pdf = render_pdf(f'<html lang="en-GB"><p>Hello</p><img src="{outside.as_uri()}"></html>')
    assert pdf.startswith(b"%PDF")
    assert f"blocked a resource outside the toolkit's print files: {outside.as_uri()}" in (
        caplog.text
    )


def test_a_document_the_toolkit_does_not_print_is_named_in_the_refusal(pack):
    with pytest.raises(KeyError, match="'minutes'"):
        document_html(pack, "minutes")
