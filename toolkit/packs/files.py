"""A session's documents as files: each PDF by name, the optional HTML, and one zip of all."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from toolkit.packs.cache import set_folder
from toolkit.packs.content import Pack
from toolkit.packs.render import DOCUMENTS, render_html, render_pdf

NAMED_HANDOUTS = "handouts-named"


@dataclass(frozen=True)
class Rendered:
    """One document's HTML and PDF under its file stem."""

    stem: str
    html: str
    pdf: bytes


def document_names(pack: Pack) -> list[str]:
    """Which documents a session's pack has."""
    return available(bool(pack.present), pack.self_assessment, bool(pack.members))


def available(anyone_present: bool, self_assessment: bool, has_members: bool) -> list[str]:
    """Certificates once someone is marked present; the self-assessment sheet at the first and
    final meetings; named handouts when there are members."""
    wanted = {"certificates": anyone_present, "self-assessment": self_assessment}
    names = [n for n in DOCUMENTS if wanted.get(n, True)]
    return names + ([NAMED_HANDOUTS] if has_members else [])


def render_document(pack: Pack, stem: str, cache_dir: Path | None = None) -> Rendered:
    """Render one document; `handouts-named` is the handout with one named copy per member,
    each numbering its own pages (see `render_pdf`).

    PDFs are cached in the set's own folder under `cache_dir`, so deleting it forgets them all.
    """
    html = document_html(pack, stem)
    folder = set_folder(cache_dir, pack.set_id) if cache_dir else None
    return Rendered(stem, html, render_pdf(html, folder))


def document_html(pack: Pack, stem: str) -> str:
    """One document's HTML, ready for WeasyPrint."""
    if stem == NAMED_HANDOUTS:
        return render_html("handout", pack, personalise=pack.members)
    if stem in DOCUMENTS:
        return render_html(stem, pack)
    raise KeyError(stem)


def render_all(
    pack: Pack, cache_dir: Path | None = None, workers: int | None = None
) -> list[Rendered]:
    """Every document the session has, laid out side by side in `workers` processes (one per
    core by default; WeasyPrint keeps one core busy per document), the longest first."""
    stems = document_names(pack)
    htmls = [document_html(pack, stem) for stem in stems]
    folder = set_folder(cache_dir, pack.set_id) if cache_dir else None
    workers = min(len(stems), workers or len(os.sched_getaffinity(0)))
    if workers <= 1:
        pdfs = [render_pdf(html, folder) for html in htmls]
    else:
        longest_first = sorted(range(len(htmls)), key=lambda n: -len(htmls[n]))
        with ProcessPoolExecutor(workers) as pool:
            futures = {n: pool.submit(render_pdf, htmls[n], folder) for n in longest_first}
            pdfs = [futures[n].result() for n in range(len(htmls))]
    return [Rendered(*parts) for parts in zip(stems, htmls, pdfs, strict=True)]


def write_all(rendered: list[Rendered], folder: Path, with_html: bool = False) -> list[Path]:
    """Write the PDFs (and HTML) into `folder`; return the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for doc in rendered:
        written.append(folder / f"{doc.stem}.pdf")
        written[-1].write_bytes(doc.pdf)
        if with_html:
            written.append(folder / f"{doc.stem}.html")
            written[-1].write_text(doc.html, "utf-8")
    return written


class _Pipe(io.RawIOBase):
    """A write-only stream that hands over what was written so far (for streaming a zip)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.chunks.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        data, self.chunks = b"".join(self.chunks), []
        return data


def zip_stream(
    pack: Pack, prefix: str, cache_dir: Path | None = None, now: datetime | None = None
) -> Iterator[bytes]:
    """Every document of the session as one zip, sent as each PDF is rendered (the browser's
    download shows the progress); each entry is dated when it was made, on the set's clock
    (a zip keeps local time without a zone)."""
    made = (now or datetime.now(UTC)).astimezone(ZoneInfo(pack.time_zone))
    stamp = (made.year, made.month, made.day, made.hour, made.minute, made.second)
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", zipfile.ZIP_DEFLATED) as archive:
        for stem in document_names(pack):
            doc = render_document(pack, stem, cache_dir)
            info = zipfile.ZipInfo(f"{prefix}/{doc.stem}.pdf", date_time=stamp)
            archive.writestr(info, doc.pdf, zipfile.ZIP_DEFLATED)
            yield pipe.take()
    yield pipe.take()
