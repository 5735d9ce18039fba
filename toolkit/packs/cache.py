"""The PDF cache: one folder per set, so deleting a set's or a member's data can remove every PDF
that held it, and writes that are atomic and never stop a PDF from being served."""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from pathlib import Path

from toolkit.private_files import private_folder

log = logging.getLogger(__name__)


def set_folder(cache_dir: Path, set_id: int) -> Path:
    """The folder holding every cached PDF of one set (named by its id, which never changes)."""
    return cache_dir / f"set-{set_id}"


def read_cached(path: Path) -> bytes | None:
    """The cached PDF at `path`, or None when there is none or it cannot be read."""
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        log.warning("cannot read the cached PDF %s (%s): rendering it again", path, exc)
        return None


def store(path: Path, pdf: bytes) -> bool:
    """Write `pdf` to `path` atomically; on a full or read-only disk log a warning, leave no
    temporary file behind and return False (the caller still has the PDF to serve)."""
    partial: Path | None = None
    try:
        private_folder(path.parent)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
            partial = Path(handle.name)
            handle.write(pdf)
        partial.replace(path)  # atomic: a reader never sees half a file
        return True
    except OSError as exc:
        log.warning("could not keep the PDF in the cache at %s (%s)", path.parent, exc)
        if partial is not None:
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
        return False


def forget_set(cache_dir: Path, set_id: int) -> bool:
    """Remove every cached PDF that could hold the set's data: its folder, and any loose PDF
    left at the top of the cache by versions that kept no folders; False if some remain."""
    removed = _remove_tree(set_folder(cache_dir, set_id))
    for loose in _loose_files(cache_dir):
        try:
            loose.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not remove the cached PDF %s (%s)", loose, exc)
            removed = False
    return removed


def _remove_tree(folder: Path) -> bool:
    try:
        shutil.rmtree(folder)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("could not remove the cached PDFs in %s (%s)", folder, exc)
        return False
    return True


def _loose_files(cache_dir: Path) -> list[Path]:
    try:
        return [p for p in cache_dir.iterdir() if p.suffix in (".pdf", ".tmp") and p.is_file()]
    except OSError:  # no cache yet, or not a folder: nothing loose to remove
        return []
