"""Render a session's documents: Jinja HTML with one print stylesheet, then PDF with WeasyPrint."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import weasyprint
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from weasyprint.urls import URLFetcher, URLFetcherResponse

from toolkit.casebank import LEVELS
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

_env = Environment(
    loader=PackageLoader("toolkit.packs", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["markdown"] = render_markdown


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
    """A tagged A4 PDF of `html`, from the cache when the same HTML was rendered before."""
    cached = cache_dir / f"{cache_key(html)}.pdf" if cache_dir else None
    pdf = read_cached(cached) if cached else None
    if pdf is None:
        pdf = bare_pdf(html, StaticOnlyFetcher())
        if cached:
            store(cached, pdf)
    return pdf


def bare_pdf(html: str, fetcher: URLFetcher | None = None) -> bytes:
    """Render with WeasyPrint directly (the benchmark compares against this)."""
    document = weasyprint.HTML(
        string=html, base_url=STATIC.as_uri() + "/", url_fetcher=fetcher or URLFetcher()
    )
    return document.write_pdf(pdf_tags=True)
