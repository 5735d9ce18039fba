"""The PDF cache: deleting data removes every cached PDF holding it; a broken cache still serves."""

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from toolkit.packs import STATIC

from .test_packs import pdf_text
from .test_sets_web import make_set, meetings, text

DOCUMENTS = ("handouts-named", "sign-in", "certificates", "facilitator-pack", "handout")
TOM = "Tom Reid"  # the fifth member make_set adds


@pytest.fixture
def db(app):
    """A database session the test can read through."""
    with app.extensions["toolkit"].sessions() as session:
        yield session


def print_session(client, db, slug: str = "set-a") -> None:
    """Mark everyone present at the first two (past) sessions and download their documents."""
    for meeting in meetings(db, slug)[:2]:
        url = f"/sets/{slug}/sessions/{meeting.key}"
        present = {f"member-{m.id}": "present" for m in meeting.learning_set.members}
        assert client.post(url + "/attendance", data=present).status_code == 302
        for stem in DOCUMENTS:
            response = client.get(f"{url}/print/{stem}.pdf")
            assert response.status_code == 200, (stem, response.text)
        assert client.get(f"{url}/print/all.zip").status_code == 200


def cached(cache: Path) -> list[Path]:
    return sorted(p for p in cache.rglob("*") if p.is_file())


def naming(cache: Path, name: str) -> list[Path]:
    """The cached files whose extracted text names `name`."""
    return [p for p in cached(cache) if name in pdf_text(p.read_bytes())]


def test_deleting_a_member_removes_every_cached_pdf_naming_them(app, db, signed_in, env):
    cache = env.pdf_cache_dir
    make_set(signed_in, first="2025-01-09")
    print_session(signed_in, db)
    legacy = cache / "0123abcd.pdf"  # left flat by a version without per-set folders
    legacy.write_bytes(naming(cache, TOM)[0].read_bytes())
    assert len(naming(cache, TOM)) >= 8  # the check below can see a name when it is there
    tom = next(m for m in meetings(db)[0].learning_set.members if m.name == TOM)

    done = signed_in.post(f"/sets/set-a/members/{tom.id}/delete", follow_redirects=True)

    assert f"{TOM}'s data has been deleted." in text(done) and "could not" not in text(done)
    assert naming(cache, TOM) == [] and cached(cache) == []
    print_session(signed_in, db)  # printing again names only the members who remain
    assert cached(cache) and naming(cache, TOM) == [] and naming(cache, "Zoë Marsh")


def test_deleting_a_set_removes_its_cached_pdfs_and_no_others(app, db, signed_in, env):
    cache = env.pdf_cache_dir
    make_set(signed_in, "set-a", first="2025-01-09")
    make_set(signed_in, "set-b", first="2025-01-16")
    print_session(signed_in, db, "set-a")
    print_session(signed_in, db, "set-b")
    set_a, set_b = (meetings(db, s)[0].set_id for s in ("set-a", "set-b"))
    kept = cached(cache / f"set-{set_b}")
    assert cached(cache / f"set-{set_a}") and kept

    assert signed_in.post("/sets/set-a/delete").status_code == 302

    assert not (cache / f"set-{set_a}").exists()
    assert cached(cache) == kept  # the other set's PDFs stay


def test_a_cache_that_cannot_be_written_still_serves_the_pdf(app, db, signed_in, env, caplog):
    make_set(signed_in, first="2025-01-09")
    env.pdf_cache_dir.write_text(
        "a file where the cache folder should be"
    )  # mkdir fails, as root too
    url = f"/sets/set-a/sessions/{meetings(db)[0].key}/print/handout.pdf"

    with caplog.at_level(logging.WARNING):
        response = signed_in.get(url)

    assert response.status_code == 200
    reader = PdfReader(io.BytesIO(response.data))
    assert "Participant handout" in pdf_text(response.data) and len(reader.pages) >= 1
    assert "could not keep the PDF in the cache" in caplog.text
    assert list(env.data_dir.rglob("*.tmp")) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_cache_still_serves_the_pdf(app, db, signed_in, env):
    make_set(signed_in, first="2025-01-09")
    meeting = meetings(db)[0]
    folder = env.pdf_cache_dir / f"set-{meeting.set_id}"
    folder.mkdir(parents=True)
    folder.chmod(0o500)
    try:
        response = signed_in.get(f"/sets/set-a/sessions/{meeting.key}/print/handout.pdf")
    finally:
        folder.chmod(0o700)
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert cached(env.pdf_cache_dir) == []


FULL_DISK = """
import resource, signal, sys
from pathlib import Path
from toolkit.packs import render_pdf

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-big write fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))  # no file may grow past 2 KiB
sys.stdout.buffer.write(render_pdf(sys.stdin.read(), Path(sys.argv[1])))
"""


def test_a_full_disk_mid_write_leaves_no_temporary_file(tmp_path):
    cache = tmp_path / "cache"
    html = f'<html><head><link rel="stylesheet" href="{STATIC.as_uri()}/print.css"></head>'
    html += "<body><h1>Sign-in register</h1><p>Full disk</p></body></html>"

    result = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(cache)], input=html.encode(), capture_output=True
    )

    assert result.returncode == 0, result.stderr.decode()
    assert "Full disk" in pdf_text(result.stdout)  # served, though it could not be kept
    assert len(result.stdout) > 2048  # so the cache write really was cut short
    assert "could not keep the PDF in the cache" in result.stderr.decode()
    assert list(cache.iterdir()) == []
