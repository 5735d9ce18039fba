"""Render a session's documents: Jinja HTML with one print stylesheet, then PDF with WeasyPrint."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import weasyprint
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
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

    A document of several named copies (each between `COPY_START` and `COPY_END`) is laid out
    one copy at a time and the pages joined, so each copy numbers its own pages.
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
    documents = [_document(fill_lines(html, fetcher), fetcher).render() for html in htmls]
    pages = [page for document in documents for page in document.pages]
    return documents[0].copy(pages).write_pdf(pdf_tags=True)


def bare_pdf(html: str, fetcher: URLFetcher | None = None) -> bytes:
    """Render with WeasyPrint directly (the benchmark compares against this)."""
    return _document(html, fetcher or URLFetcher()).write_pdf(pdf_tags=True)


def _document(html: str, fetcher: URLFetcher) -> weasyprint.HTML:
    return weasyprint.HTML(string=html, base_url=STATIC.as_uri() + "/", url_fetcher=fetcher)


_FILL = re.compile(r'<div class="lines" data-fill>')


def fill_lines(html: str, fetcher: URLFetcher) -> str:
    """Lengthen each block of writing lines marked `data-fill` so that it uses the rest of the
    page it ends on: a sheet for writing on never ends in a mostly empty page, nor spills a few
    lines onto one. Costs one extra layout, only for documents that have such blocks."""
    count = len(_FILL.findall(html))
    if not count:
        return html
    numbered = iter(range(count))
    html = _FILL.sub(lambda _: f'<div class="lines" data-fill="{next(numbered)}">', html)
    extra = _spare_lines(_document(html, fetcher).render())
    for n, lines in extra.items():
        marker = f'data-fill="{n}">'
        html = html.replace(marker, marker + "<div></div>" * lines)
    return html


def _spare_lines(document) -> dict[str, int]:
    """How many more lines each fill block can take: the free space under the content of the
    page where it ends, shared between the blocks that end on that page."""
    extra: dict[str, int] = {}
    ends: dict[str, tuple[int, float]] = {}  # block -> (page it ends on, one line's height)
    for number, page in enumerate(document.pages):
        for box in page._page_box.descendants():
            element = getattr(box, "element", None)
            if box.element_tag == "div" and element is not None and element.get("data-fill"):
                line = box.children[0].margin_height() if box.children else 0
                ends[element.get("data-fill")] = (number, line)
    for number, page in enumerate(document.pages):
        blocks = [(n, line) for n, (p, line) in ends.items() if p == number and line > 0]
        if not blocks:
            continue
        free = _free_space(page._page_box)
        lines = int(free // blocks[0][1])
        for i, (n, _line) in enumerate(blocks):
            extra[n] = lines // len(blocks) + (1 if i < lines % len(blocks) else 0)
    return extra


def _free_space(page_box) -> float:
    """The height left empty at the foot of a page's content area (less a little, for rounding):
    under the lowest box that holds nothing further (a line of text, an empty block)."""
    bottom = page_box.content_box_y() + page_box.height
    leaves = [b for b in page_box.children[0].descendants() if not getattr(b, "children", ())]
    used = max((b.position_y + b.margin_height() for b in leaves), default=bottom)
    return max(0.0, bottom - used - 2)
