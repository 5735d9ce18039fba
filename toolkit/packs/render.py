"""Render a session's documents: Jinja HTML with one print stylesheet, then PDF with WeasyPrint."""

from __future__ import annotations

import hashlib
import logging
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pydyf
import weasyprint
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from weasyprint.document import Page
from weasyprint.formatting_structure.boxes import MarginBox
from weasyprint.urls import URLFetcher, URLFetcherResponse

from toolkit.casebank import LEVELS
from toolkit.evaluations import SCALE, grouped
from toolkit.packs.cache import read_cached, store
from toolkit.packs.content import PROCESS_REVIEW_QUESTIONS, Pack, Person
from toolkit.text import render_markdown

STATIC = Path(__file__).parent / "static"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Document:
    """One printable document: its file name, title and whether participants receive it."""

    name: str
    title: str
    participant: bool


DOCUMENTS = {
    d.name: d
    for d in (
        Document("facilitator-pack", "Facilitator pack", False),
        Document("handout", "Participant handout", True),
        Document("sign-in", "Sign-in register", True),
        Document("reflection", "Reflection sheet", True),
        Document("evaluation", "Evaluation form", True),
        Document("ground-rules", "Ground rules", True),
        Document("certificates", "Certificates of attendance", True),
        Document("self-assessment", "Leadership self-assessment", True),
    )
}


def templates(package: str) -> Environment:
    """The Jinja environment for a package's printed documents (its `templates/` folder): every
    PDF the toolkit prints is written with the same escaping and whitespace rules."""
    env = Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["markdown"] = render_markdown
    return env


_env = templates("toolkit.packs")


def render_html(name: str, pack: Pack, personalise: tuple[Person, ...] = ()) -> str:
    """The document's HTML; participant documents only ever see `pack.for_participants()`."""
    document = DOCUMENTS[name]
    data = pack.for_participants() if document.participant else pack
    return _env.get_template(f"{name}.html").render(
        pack=data,
        document=document,
        copies=personalise or (None,),
        process_questions=PROCESS_REVIEW_QUESTIONS,
        levels=LEVELS,
        evaluation=grouped(),
        scale=SCALE,
        zip=zip,
    )


class StaticOnlyFetcher(URLFetcher):
    """Serves the package's own print files and nothing else: no network, no other local file."""

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        path = _static_path(url)
        if path is None:
            log.warning("blocked a resource outside the toolkit's print files: %s", url)
            raise ValueError(f"resource not allowed in printed documents: {url}")
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": _mime(path)})


def _static_path(url: str) -> Path | None:
    if not url.startswith("file://"):
        return None
    path = Path(url.removeprefix("file://").split("?")[0]).resolve()
    inside = path.is_file() and path.parent == STATIC.resolve()
    return path if inside else None


def _mime(path: Path) -> str:
    return {".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png"}.get(
        path.suffix, "application/octet-stream"
    )


def cache_key(html: str) -> str:
    """A key that changes when the HTML, the stylesheet or the WeasyPrint version changes."""
    digest = hashlib.sha256(weasyprint.__version__.encode())
    digest.update((STATIC / "print.css").read_bytes())
    digest.update(html.encode("utf-8"))
    return digest.hexdigest()


def render_pdf(html: str, cache_dir: Path | None = None) -> bytes:
    """A tagged A4 PDF of `html`, from the cache when the same HTML was rendered before.

    A document of several named copies (each between `COPY_START` and `COPY_END`) becomes one
    document per copy, their pages joined, so each copy numbers its own pages; the copies after
    the first reuse its layout where only their names differ (see `_copy_pages`).
    """
    cached = cache_dir / f"{cache_key(html)}.pdf" if cache_dir else None
    pdf = read_cached(cached) if cached else None
    if pdf is None:
        pdf = combined_pdf(split_copies(html), StaticOnlyFetcher())
        if cached:
            store(cached, pdf)
    return pdf


COPY_START, COPY_END = "<!--copy-->", "<!--/copy-->"


def split_copies(html: str) -> list[str]:
    """One whole document per marked copy (the head and tail around every copy), or `[html]`."""
    if COPY_START not in html:
        return [html]
    head, rest = html.split(COPY_START, 1)
    parts = (COPY_START + rest).rsplit(COPY_END, 1)
    body, tail = parts[0], parts[1] if len(parts) > 1 else ""
    copies = [c.split(COPY_END)[0] for c in body.split(COPY_START) if c.strip()]
    return [head + copy + tail for copy in copies]


def combined_pdf(htmls: Sequence[str], fetcher: URLFetcher) -> bytes:
    """Lay out each document (its writing lines filling their pages) and join their pages."""
    first = fill_lines(_document(htmls[0], fetcher).render())
    pages = list(first.pages)
    if len(htmls) > 1:
        sheet = weasyprint.CSS(url=(STATIC / "print.css").as_uri(), url_fetcher=fetcher)
        for html in htmls[1:]:
            pages += _copy_pages(first, htmls[0], html, fetcher, sheet)
    return first.copy(pages).write_pdf(pdf_tags=True)


def _page_references(pdf: pydyf.PDF) -> tuple[bytes, ...]:
    """The PDF's page references, remembered until a page is added. pydyf 0.13 builds the
    tuple afresh on every call and WeasyPrint's tagging calls it once per tagged box, which
    made writing quadratic in the number of pages (50 named handouts, 350 pages: 5.4 s to
    write, 3.5 s with this)."""
    kids = pdf.pages["Kids"]
    known = pdf.__dict__.get("_toolkit_page_references")
    if known is None or known[0] != len(kids):
        known = (len(kids), tuple(f"{number} 0 R".encode("ascii") for number in kids[::3]))
        pdf.__dict__["_toolkit_page_references"] = known
    return known[1]


def _stream_data(stream: pydyf.Stream) -> bytes:
    """A stream's bytes as pydyf 0.13 writes them, deflated at zlib's default level, 6, where
    pydyf uses 9: the same content, 4 % more bytes, and a long document written in a tenth less
    time (50 named handouts: 6.0 s of CPU to 5.2 s)."""
    data = b"\n".join(pydyf._to_bytes(item) for item in stream.stream)
    extra = pydyf.Dictionary(stream.extra.copy())
    if stream.compress:
        extra["Filter"] = "/FlateDecode"
        data = zlib.compress(data, DEFLATE_LEVEL)
    extra["Length"] = len(data)
    return b"\n".join((extra.data, b"stream", data, b"endstream"))


DEFLATE_LEVEL = 6
PYDYF_PAGE_REFERENCES = pydyf.PDF.page_references
pydyf.PDF.page_references = property(_page_references)
PYDYF_STREAM_DATA = pydyf.Stream.data
pydyf.Stream.data = property(_stream_data)


def bare_pdf(html: str, fetcher: URLFetcher | None = None) -> bytes:
    """Render with WeasyPrint directly (the benchmark compares against this)."""
    return _document(html, fetcher or URLFetcher()).write_pdf(pdf_tags=True)


def _document(html: str, fetcher: URLFetcher) -> weasyprint.HTML:
    return weasyprint.HTML(string=html, base_url=STATIC.as_uri() + "/", url_fetcher=fetcher)


# An element that differs between named copies (the name): `data-personal` in the template.
_PERSONAL = re.compile(r"<(\w+)\b[^>]*\bdata-personal\b[^>]*>.*?</\1>", re.DOTALL)


_STYLESHEET_LINK = '<link rel="stylesheet" href="print.css">'


def _copy_pages(
    first, first_html: str, html: str, fetcher: URLFetcher, sheet: weasyprint.CSS
) -> list[Page]:
    """The pages of another named copy. When it differs from the first copy only in its
    `data-personal` elements, and they take the same room, the first copy's pages are reused
    with this copy's personal elements and page margins (running header, footer with the name,
    page x of y) put in: those come from a short layout of the copy's opening alone, with as
    many empty pages (and the print stylesheet parsed once for all copies). Otherwise the copy
    is laid out on its own."""
    same_rest = _PERSONAL.sub("", html) == _PERSONAL.sub("", first_html)
    if _PERSONAL.search(html) and same_rest:
        opening = html[: list(_PERSONAL.finditer(html))[-1].end()]
        breaks = '<div class="page-break"></div>' * (len(first.pages) - 1)
        opening = opening.replace(_STYLESHEET_LINK, "", 1)
        stamp = _document(opening + breaks, fetcher).render(stylesheets=[sheet])
        if _same_room(first, stamp):
            return [_stamped(a, b) for a, b in zip(first.pages, stamp.pages, strict=True)]
    return list(fill_lines(_document(html, fetcher).render()).pages)


def _personal_boxes(document) -> list[tuple[int, object, object]]:
    """Each `data-personal` element's outermost box: (page number, its parent, the box)."""
    found: list[tuple[int, object, object]] = []
    for number, page in enumerate(document.pages):
        _find_personal(number, page._page_box, found)
    return found


def _find_personal(number: int, parent, found: list) -> None:
    for child in getattr(parent, "children", ()):
        element = getattr(child, "element", None)
        if element is not None and element.get("data-personal") is not None:
            found.append((number, parent, child))
        else:
            _find_personal(number, child, found)


def _same_room(first, stamp) -> bool:
    """Whether the stamp has as many pages and its personal boxes sit where the first copy's
    do, at the same size (a name that wraps onto a second line does not)."""
    mine, theirs = _personal_boxes(first), _personal_boxes(stamp)
    if len(stamp.pages) != len(first.pages) or len(mine) != len(theirs):
        return False
    return all(
        page == other_page
        and abs(box.position_y - other.position_y) < 0.01
        and abs(box.margin_height() - other.margin_height()) < 0.01
        and abs(box.margin_width() - other.margin_width()) < 0.01
        for (page, _, box), (other_page, _, other) in zip(mine, theirs, strict=True)
    )


def _stamped(page: Page, stamp: Page) -> Page:
    """A copy of a laid-out page with the stamp page's personal boxes and margin boxes."""
    box = page._page_box.deepcopy()
    copied: list = []
    _find_personal(0, box, copied)
    swaps: list = []
    _find_personal(0, stamp._page_box, swaps)
    for (_, parent, old), (_, _, new) in zip(copied, swaps, strict=True):
        new.translate(old.position_x - new.position_x, old.position_y - new.position_y)
        parent.children = [new if child is old else child for child in parent.children]
    content = [child for child in box.children if not isinstance(child, MarginBox)]
    margins = [child for child in stamp._page_box.children if isinstance(child, MarginBox)]
    box.children = tuple(content + margins)
    return Page(box)


def fill_lines(document: weasyprint.Document) -> weasyprint.Document:
    """Lengthen each block of writing lines marked `data-fill` so that it uses the rest of the
    page it ends on: a sheet for writing on never ends in a mostly empty page, nor spills a few
    lines onto one. The lines are added to the laid-out pages (copies of the block's last line,
    each one line lower), so the document is laid out once."""
    ends = {}  # each fill block's element -> (its page, its part on that page)
    for page in document.pages:
        for box in page._page_box.descendants():
            element = getattr(box, "element", None)
            if box.element_tag == "div" and element is not None and _marked(element):
                ends[element] = (page, box)
    for page in document.pages:
        blocks = [box for on, box in ends.values() if on is page and box.children]
        if not blocks:
            continue
        spare = int(_free_space(page._page_box) // blocks[0].children[0].margin_height())
        for block, lines in zip(blocks, _share(spare, blocks), strict=True):
            _add_lines(page._page_box.children[0], block, lines)
    return document


def _marked(element) -> bool:
    return element.get("data-fill") is not None


def _share(lines: int, blocks: list) -> list[int]:
    """`lines` shared out between the blocks, the earlier ones taking any remainder."""
    each, left = divmod(lines, len(blocks))
    return [each + (1 if i < left else 0) for i in range(len(blocks))]


def _add_lines(root, block, count: int) -> None:
    """Append `count` copies of the block's last line under it, then move everything that
    follows the block down and lengthen the boxes that hold it, as a new layout would."""
    if count <= 0:
        return
    last = block.children[-1]
    step = last.margin_height()
    for n in range(1, count + 1):
        line = last.copy_with_children([])
        line.translate(0, step * n)
        block.children.append(line)
    _push_down(root, block, step * count)


def _push_down(root, box, height: float) -> None:
    """Grow `box` and its ancestors up to `root` by `height`, moving their later children down."""
    path = _path(root, box)
    for parent, child in zip(reversed(path[:-1]), reversed(path[1:]), strict=True):
        child.height += height
        for later in parent.children[parent.children.index(child) + 1 :]:
            later.translate(0, height)
    root.height += height


def _path(root, box) -> list:
    """The boxes from `root` down to `box`."""
    if root is box:
        return [root]
    for child in getattr(root, "children", ()):
        path = _path(child, box)
        if path:
            return [root, *path]
    return []


def _free_space(page_box) -> float:
    """The height left empty at the foot of a page's content area (less a little, for rounding):
    under the lowest box that holds nothing further (a line of text, an empty block)."""
    bottom = page_box.content_box_y() + page_box.height
    leaves = [b for b in page_box.children[0].descendants() if not getattr(b, "children", ())]
    used = max((b.position_y + b.margin_height() for b in leaves), default=bottom)
    return max(0.0, bottom - used - 2)
