"""Files and folders that hold personal data, made readable by their owner alone.

The database, the secret key, backups, the outbox and the PDF cache hold password hashes,
member tokens, names, addresses and ratings, so files are made 0600 and folders 0700 whatever
the process's umask; the CLI also sets a umask of 0077 (`PRIVATE_UMASK`) for everything else.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

PRIVATE_UMASK = 0o077
FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_folder(path: Path) -> Path:
    """Create `path` and any missing parents as folders only the owner can open (0700); folders
    that already exist are left as they are."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made by another process meanwhile
            folder.mkdir(mode=FOLDER_MODE)
    return path


def create_private_file(path: Path) -> None:
    """Create `path` empty and readable by its owner alone (0600), unless it exists already."""
    private_folder(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically as a file only its owner can read (0600): a reader
    never sees half a file, and a failed write leaves no temporary file behind."""
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise
