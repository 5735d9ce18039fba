"""Bulk printing: every document of every session of a set, or every certificate of a
programme's sets, as one zip, rendered in a pool of processes (WeasyPrint is CPU-bound, so one
per core), with its progress kept beside the zip.

A bundle lives in the data folder's `bundles/` as `<id>.zip` and `<id>.json` (its progress), and
is deleted after `KEEP`. The id is long and random: it is the only key to the download.
"""

from __future__ import annotations

import json
import os
import secrets
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit import packs, sets
from toolkit.models import LearningSet
from toolkit.packs.cache import set_folder
from toolkit.private_files import private_folder

if TYPE_CHECKING:
    from toolkit.jobs.queue import Queue

KEEP = 24 * 3600  # seconds a finished bundle is kept for download


@dataclass(frozen=True)
class Progress:
    """How far a bundle has got: documents done of the total, and its state."""

    set_slugs: list[str]  # whoever may see every one of these sets may see the bundle
    done: int
    total: int
    state: str  # queued, rendering, ready, failed
    detail: str = ""
    title: str = ""  # what the page calls it: "All documents of …", "Certificates of …"
    name: str = ""  # the zip's file name, without ".zip"
    programme_id: str = ""  # a programme's certificates: its page is the way back


def folder(data_dir: Path) -> Path:
    return data_dir / "bundles"


def new_bundle(
    data_dir: Path, learning_sets: list[LearningSet], programme_id: str = "", title: str = ""
) -> str:
    """Record a queued bundle of the sets' documents (of a programme's sets' certificates, when
    `programme_id` is given, `title` being the programme's); its id."""
    bundle_id = secrets.token_urlsafe(24)
    if programme_id:
        label, name = f"Certificates of {title}", f"{programme_id}-certificates"
    else:
        first = learning_sets[0]
        label, name = f"All documents of {first.title}", f"{first.slug}-all-documents"
    slugs = [s.slug for s in learning_sets]
    _write(data_dir, bundle_id, Progress(slugs, 0, 0, "queued", "", label, name, programme_id))
    return bundle_id


def progress(data_dir: Path, bundle_id: str) -> Progress | None:
    """A bundle's progress, or None when there is no such bundle (or it has expired)."""
    if not bundle_id.replace("-", "").replace("_", "").isalnum():
        return None
    try:
        return Progress(**json.loads((folder(data_dir) / f"{bundle_id}.json").read_text()))
    except (OSError, ValueError, TypeError):
        return None


def zip_path(data_dir: Path, bundle_id: str) -> Path:
    return folder(data_dir) / f"{bundle_id}.zip"


def _write(data_dir: Path, bundle_id: str, state: Progress) -> None:
    """Replace the progress file whole (write, then rename), so a reader never sees half."""
    where = private_folder(folder(data_dir))
    partial = where / f".{bundle_id}.json.tmp"
    partial.write_text(json.dumps(asdict(state)))
    os.replace(partial, where / f"{bundle_id}.json")


def run(queue: Queue, set_ids: list[int], bundle_id: str, only: str | None = None) -> str:
    """The bundle task: build every document's HTML here (only `only`, when given, e.g.
    "certificates"), render the PDFs in a process pool, write the zip."""
    data_dir = queue.settings.data_dir
    jobs, slugs = _documents(queue, set_ids, only)
    queued = progress(data_dir, bundle_id) or Progress(slugs, 0, 0, "queued")
    state = replace(queued, set_slugs=slugs, total=len(jobs), state="rendering")
    _write(data_dir, bundle_id, state)
    target = zip_path(data_dir, bundle_id)
    partial = target.with_suffix(".zip.tmp")
    stamp = time.localtime()[:6]
    try:
        with (
            ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool,
            zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive,
        ):
            futures = {
                pool.submit(packs.render_pdf, html, cache): name for name, html, cache in jobs
            }
            for done, future in enumerate(as_completed(futures), 1):
                info = zipfile.ZipInfo(f"{futures[future]}.pdf", date_time=stamp)
                archive.writestr(info, future.result(), zipfile.ZIP_DEFLATED)
                _write(data_dir, bundle_id, replace(state, done=done))
    except Exception as exc:
        partial.unlink(missing_ok=True)
        _write(data_dir, bundle_id, replace(state, state="failed", detail=repr(exc)))
        raise
    os.replace(partial, target)
    _write(data_dir, bundle_id, replace(state, done=len(jobs), state="ready"))
    return str(target)


def _documents(
    queue: Queue, set_ids: list[int], only: str | None
) -> tuple[list[tuple[str, str, Path]], list[str]]:
    """(zip entry name, HTML, cache folder) for each document of each session of the sets."""
    worker = queue.worker
    content = worker.content
    jobs, slugs = [], []
    with worker.sessions() as db:
        for set_id in set_ids:
            learning_set = db.get(LearningSet, set_id)
            if learning_set is None:
                continue
            slugs.append(learning_set.slug)
            cache = set_folder(queue.settings.pdf_cache_dir, set_id)
            for meeting in sets.meetings_in_order(learning_set):
                pack = packs.build_pack(db, meeting, content.bank, content.frameworks)
                number = sets.meeting_number(meeting)
                for stem in packs.document_names(pack):
                    if only is None or stem == only:
                        name = f"{learning_set.slug}/session-{number}/{stem}"
                        jobs.append((name, packs.document_html(pack, stem), cache))
    return jobs, slugs


def purge(data_dir: Path, now: float | None = None) -> int:
    """Delete bundles older than `KEEP`; how many files went."""
    now = now or time.time()
    gone = 0
    for path in folder(data_dir).glob("*") if folder(data_dir).is_dir() else []:
        if now - path.stat().st_mtime > KEEP:
            path.unlink(missing_ok=True)
            gone += 1
    return gone


def finished_at(data_dir: Path, bundle_id: str) -> datetime | None:
    path = zip_path(data_dir, bundle_id)
    return datetime.fromtimestamp(path.stat().st_mtime) if path.exists() else None
