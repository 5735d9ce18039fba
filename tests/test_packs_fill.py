"""Writing lines that fill their page, added to the laid-out pages instead of a second layout."""

import io
import logging
import subprocess
import zlib

import pytest
from PIL import Image
from pypdf import PdfReader
from pypdf.generic import StreamObject

from toolkit.packs import render
from toolkit.packs.render import StaticOnlyFetcher, combined_pdf, fill_lines, render_pdf

from .test_packs import ink_depth, word_tops

HEAD = '<html lang="en-GB"><head><link rel="stylesheet" href="print.css"></head><body>'


def lines(n: int, fill: bool = True) -> str:
    marker = " data-fill" if fill else ""
    return f'<div class="lines"{marker}>' + "<div></div>" * n + "</div>"


# Three fill blocks on the first page with text between and after them, one of them inside a
# bordered box; then a long block that nearly fills the second page, and one on the third.
SHEET = (
    HEAD
    + "<h1>Sheet</h1><h2>Alpha</h2>{a}<h2>Bravo</h2>{b}<p>Between</p>"
    + '<div class="box"><h3>Charlie</h3>{c}</div><p>Afterwards</p>'
    + '<section class="block"><h2>Delta</h2>{d}<h2>Echo</h2>{e}<p>Closing</p></section>'
    + "</body></html>"
)
WRITTEN = {"a": 3, "b": 2, "c": 3, "d": 25, "e": 3}


def pictures(pdf: bytes) -> bytes:
    """Every page as one greyscale picture, to compare two PDFs as they print."""
    return subprocess.run(
        ["pdftoppm", "-r", "72", "-gray", "-"], input=pdf, capture_output=True, check=True
    ).stdout


def added_lines(html: str) -> dict[str, int]:
    """How many lines `fill_lines` adds to each block of `SHEET` (in the order they appear)."""
    document = fill_lines(render._document(html, StaticOnlyFetcher()).render())
    counts: dict = {}
    for page in document.pages:
        for box in page._page_box.descendants():
            element = getattr(box, "element", None)
            if element is not None and element.get("data-fill") is not None:
                counts[element] = counts.get(element, 0) + len(box.children)
    return {k: n - WRITTEN[k] for k, n in zip(WRITTEN, counts.values(), strict=True)}


def test_added_lines_print_exactly_as_the_same_lines_written_into_the_html():
    """The oracle is a second layout of the HTML with the extra lines written in: moving the
    later boxes down, growing the boxes that hold a block and sharing a page's space between
    its blocks must all give the very same page."""
    html = SHEET.format(**{k: lines(n) for k, n in WRITTEN.items()})
    extra = added_lines(html)
    assert min(extra["a"], extra["b"], extra["c"]) > 0  # three blocks share the first page
    assert max(extra["a"], extra["b"], extra["c"]) - min(extra["a"], extra["b"], extra["c"]) <= 1
    assert extra["e"] > 20  # alone on the last page under its heading
    written_in = SHEET.format(**{k: lines(n + extra[k], fill=False) for k, n in WRITTEN.items()})
    ours = render_pdf(html)
    assert pictures(ours) == pictures(render.bare_pdf(written_in, StaticOnlyFetcher()))
    assert all(depth > 0.9 for depth in ink_depth(ours)), ink_depth(ours)
    first = word_tops(ours, 1)
    assert first["Alpha"] < first["Bravo"] < first["Between"] < first["Charlie"]
    assert 0.85 < first["Afterwards"] < 0.95  # pushed down to the foot, still on the page


def test_one_layout_per_document(monkeypatch):
    """Filling the lines costs no second layout (a named copy used to be laid out twice)."""
    layouts = []
    original = render.weasyprint.HTML.render

    def counted(self, *args, **kwargs):
        layouts.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(render.weasyprint.HTML, "render", counted)
    html = SHEET.format(**{k: lines(n) for k, n in WRITTEN.items()})
    pdf = combined_pdf([html, html], StaticOnlyFetcher())
    assert len(layouts) == 2
    assert ink_depth(pdf)[0] > 0.9


@pytest.mark.parametrize("written", [1, 40])
def test_a_full_page_gets_no_lines_and_a_short_one_is_filled(written):
    html = HEAD + "<h1>Notes</h1>" + lines(written) + "</body></html>"
    depths = ink_depth(render_pdf(html))
    assert depths[-1] > 0.9


# Named copies: the first copy is laid out, the others reuse its pages with their own name.


def named_handouts(names: list[str]) -> list[str]:
    """One handout HTML per named copy, as the named-handouts document splits them."""
    copies = "".join(
        f'<!--copy--><section class="copy"><p class="doctitle" data-personal>Handout for {name}'
        f'</p><p class="eyebrow" data-personal>Participant handout · {name}</p><h1>Set A</h1>'
        + "<h2>Agenda</h2>" + "<p>Check-in, then presentations and questions.</p>" * 40
        + "<h2>Notes</h2>" + lines(3) + "</section><!--/copy-->"
        for name in names
    )  # fmt: skip
    running = '<p class="running">Set A · Session 2</p>'
    return render.split_copies(HEAD + running + "<main>" + copies + "</main></body></html>")


def each_laid_out(htmls: list[str]) -> bytes:
    """The oracle: every copy laid out on its own, as before copies reused the first's pages."""
    fetcher = StaticOnlyFetcher()
    documents = [fill_lines(render._document(html, fetcher).render()) for html in htmls]
    return documents[0].copy([p for d in documents for p in d.pages]).write_pdf(pdf_tags=True)


LONG = "Dr Aloysius Featherstonehaugh-Wriothesley-Cholmondeley-Marjoribanks Ní Bhriain-Ó Súil"


def test_named_copies_print_exactly_as_copies_laid_out_one_by_one(monkeypatch):
    """Reused pages carry each copy's own name, running footer and page numbers; a name that
    wraps onto a second line takes more room, so that copy is laid out on its own."""
    htmls = named_handouts(["Zoë Marsh", "Rhodri ap Siôn", LONG, "Hana Nováková"])
    layouts = []  # for each layout, whether it was of a whole copy (it has the copy's heading)
    original = render.weasyprint.HTML.render

    def counted(self, *args, **kwargs):
        layouts.append(len(self.wrapper_element.etree_element.findall(".//h1")))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(render.weasyprint.HTML, "render", counted)
    ours = combined_pdf(htmls, StaticOnlyFetcher())
    assert layouts == [1, 0, 0, 1, 0]  # the first copy, two stamps, the long name, a stamp
    monkeypatch.undo()
    assert pictures(ours) == pictures(each_laid_out(htmls))
    pages = _pages(ours)
    assert len(pages) == 8 and "Page 2 of 2" in pages[7]
    for n, name in enumerate(["Zoë Marsh", "Rhodri ap Siôn", None, "Hana Nováková"]):
        for page in pages[2 * n : 2 * n + 2] if name else ():
            assert f"Handout for {name}" in page and "Set A · Session 2" in page
        if name:
            assert f"PARTICIPANT HANDOUT · {name.upper()}" in pages[2 * n]


def test_writing_pdfs_with_remembered_page_references_gives_the_same_bytes(monkeypatch):
    """pydyf's page references are remembered (its own are rebuilt on every call, quadratic in
    pages): the PDF written is byte for byte the one pydyf would write."""
    html = SHEET.format(**{k: lines(n) for k, n in WRITTEN.items()})
    document = render._document(html, StaticOnlyFetcher())
    laid_out = document.render()
    ours = laid_out.write_pdf(pdf_tags=True)
    monkeypatch.setattr(render.pydyf.PDF, "page_references", render.PYDYF_PAGE_REFERENCES)
    theirs = laid_out.write_pdf(pdf_tags=True)
    assert ours == theirs and len(laid_out.pages) == 3


def test_streams_deflated_at_the_default_level_hold_pydyfs_content(monkeypatch):
    """Streams are deflated at zlib's level 6, not pydyf's 9: every page's drawing, its fonts
    and its tags are what pydyf writes, and the streams are still compressed."""
    html = SHEET.format(**{k: lines(n) for k, n in WRITTEN.items()})
    laid_out = render._document(html, StaticOnlyFetcher()).render()
    ours = laid_out.write_pdf(pdf_tags=True)
    monkeypatch.setattr(render.pydyf.Stream, "data", render.PYDYF_STREAM_DATA)
    theirs = laid_out.write_pdf(pdf_tags=True)

    def streams(pdf: bytes) -> list[tuple[str, bytes]]:
        reader = PdfReader(io.BytesIO(pdf))
        found = []
        for number in range(1, reader.trailer["/Size"]):
            item = reader.get_object(number)
            if isinstance(item, StreamObject) and item.get("/Type") != "/XRef":  # offsets
                found.append((str(item.get("/Filter")), item.get_data()))
        return found

    assert ours != theirs
    mine, pydyfs = streams(ours), streams(theirs)
    assert len(mine) == 8 and mine == pydyfs  # 3 pages, fonts and their maps, tags
    assert all(kind == "/FlateDecode" for kind, _ in mine)
    page = b"\n".join(render.pydyf._to_bytes(i) for i in [b"BT", b"/F1 12 Tf", b"(Hello) Tj"])
    stream = render.pydyf.Stream([page], compress=True)
    written = render._stream_data(stream)
    packed = written.split(b"\nstream\n", 1)[1].rsplit(b"\nendstream", 1)[0]
    assert zlib.decompress(packed) == page and packed == zlib.compress(page, 6)
    assert b"/Length " + str(len(packed)).encode() in written


def test_a_pages_spare_lines_are_shared_out_with_the_remainder_going_first():
    assert render._share(7, ["a", "b", "c"]) == [3, 2, 2]
    assert render._share(1, ["a", "b"]) == [1, 0]
    assert render._share(0, ["a"]) == [0]


def test_a_single_spare_line_is_added():
    html = SHEET.format(**{k: lines(n) for k, n in WRITTEN.items()})
    document = render._document(html, StaticOnlyFetcher()).render()
    page = document.pages[0]._page_box
    block = next(
        box
        for box in page.descendants()
        if getattr(box, "element", None) is not None and box.element.get("data-fill") is not None
    )
    before, bottom = len(block.children), block.children[-1].position_y
    render._add_lines(page.children[0], block, 1)
    assert len(block.children) == before + 1
    assert block.children[-1].position_y == pytest.approx(
        bottom + block.children[-2].margin_height()
    )


def _copy(name: str, rest: str = "Shared text", extra: str = "") -> str:
    """A document with one personal element (the name), as each named copy is."""
    return f"{HEAD}{extra}<h1 data-personal>For {name}</h1><p>{rest}</p></body></html>"


def _pages(pdf: bytes) -> list[str]:
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True).stdout
    return text.decode().split("\f")[:-1]


def test_copies_with_one_personal_element_each_carry_their_own_name_and_text():
    """The second copy, whose text differs, is laid out on its own; the third reuses the
    first's layout (each compared with the first)."""
    pdf = combined_pdf(
        [_copy("Ann"), _copy("Ben", rest="Only in the second copy"), _copy("Cai")],
        StaticOnlyFetcher(),
    )
    pages = _pages(pdf)
    assert len(pages) == 3
    assert "For Ann" in pages[0] and "Shared text" in pages[0]
    assert "For Ben" in pages[1] and "Only in the second copy" in pages[1]
    assert "For Cai" in pages[2] and "Shared text" in pages[2] and "For Ann" not in pages[2]


def test_every_copy_fetches_only_the_toolkit_s_own_print_files(tmp_path, caplog):
    """Whether a copy reuses the first's layout (the second) or is laid out anew (the third):
    each asks for the picture and is refused, and no page holds it. (It has a fixed size, so a
    copy that got it would still fit the first copy's layout.)"""
    outside = tmp_path / "logo.png"
    Image.new("L", (4, 4)).save(outside)
    img = f'<img src="{outside.as_uri()}" style="display: block; width: 4px; height: 4px">'
    htmls = [_copy("Ann", extra=img), _copy("Ben", extra=img), _copy("Cai", "Other", img)]
    with caplog.at_level(logging.WARNING):
        pdf = combined_pdf(htmls, StaticOnlyFetcher())
    blocked = f"blocked a resource outside the toolkit's print files: {outside.as_uri()}"
    assert caplog.messages.count(blocked) == 3
    pages = PdfReader(io.BytesIO(pdf)).pages
    assert len(pages) == 3
    for page in pages:
        shown = page["/Resources"].get("/XObject", {}).values()
        assert [
            x.get_object()["/Subtype"] for x in shown if x.get_object()["/Subtype"] == "/Image"
        ] == []


def test_a_document_s_pdf_is_tagged_for_screen_readers():
    catalog = PdfReader(io.BytesIO(render_pdf(_copy("Ann")))).root_object
    assert "/StructTreeRoot" in catalog and catalog["/MarkInfo"]["/Marked"]
