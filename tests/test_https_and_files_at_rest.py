"""HTTPS is pinned with HSTS, and every file holding personal data is for its owner alone.

Each test sets a permissive umask (0022, under which a plain `open` makes 0644 files) so that it
is the toolkit, not the test's environment, that makes the files 0600 and the folders 0700.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from toolkit import db as database
from toolkit.cli import main
from toolkit.config import REPO_ROOT, Settings
from toolkit.web import create_app

from .conftest import add_user, send_and_deliver, sign_in
from .test_sets_web import make_set


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask():
    """Umask 0022 for the test, whatever the CLI sets meanwhile; the old one back afterwards."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, permissive_umask) -> Settings:
    """A data dir that does not exist yet, holding a SQLite database once something makes it."""
    monkeypatch.setenv("TOOLKIT_DATA_DIR", str(tmp_path / "instance"))
    for name in ("TOOLKIT_DATABASE_URL", "TOOLKIT_SECRET_KEY", "TOOLKIT_SMTP_URL"):
        monkeypatch.delenv(name, raising=False)
    return Settings.from_env()


def private(folder: Path) -> None:
    """Every file under `folder` is 0600 and every folder (itself included) 0700."""
    assert mode(folder) == 0o700, folder
    found = list(folder.rglob("*"))
    assert found, f"nothing was written under {folder}"
    for path in found:
        assert mode(path) == (0o700 if path.is_dir() else 0o600), path


def database_files_are_private(settings: Settings) -> None:
    """The database and, while a connection writes, its -wal and -shm files are 0600."""
    engine = database.make_engine(settings.database_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS scratch (n INTEGER)"))
        connection.execute(text("INSERT INTO scratch VALUES (1)"))
        db_file = settings.data_dir / "toolkit.sqlite3"
        for path in (db_file, db_file.with_name("toolkit.sqlite3-wal")):
            assert mode(path) == 0o600, path
        shm = db_file.with_name("toolkit.sqlite3-shm")
        assert mode(shm) == 0o600
    engine.dispose()


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://sets.example.nhs.uk", "max-age=31536000; includeSubDomains"),
        ("http://127.0.0.1:5000", None),
    ],
)
def test_hsts_is_sent_only_with_an_https_base_url(env, monkeypatch, base_url, expected):
    monkeypatch.setenv("TOOLKIT_BASE_URL", base_url)
    client = create_app({"TESTING": True}).test_client()
    for path in ("/login", "/no-such-page"):
        assert client.get(path).headers.get("Strict-Transport-Security") == expected


def test_files_the_cli_writes_are_for_their_owner_alone(fresh, runner, tmp_path):
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    assert mode(fresh.data_dir) == 0o700
    example = str(REPO_ROOT / "examples" / "learning-set.yaml")
    assert runner.invoke(main, ["sets", "import", example]).exit_code == 0
    slug = runner.invoke(main, ["sets", "list"]).output.split()[0]
    os.umask(0o022)  # each command sets its own umask: prove it, not the one before
    sent = runner.invoke(main, ["invites", slug, "--send"])
    assert sent.exit_code == 0, sent.output
    os.umask(0o022)
    packed = runner.invoke(main, ["pack", slug, "--session", "1", "--out", str(tmp_path / "p")])
    assert packed.exit_code == 0, packed.output
    os.umask(0o022)
    backup = tmp_path / "backup.json"
    written = runner.invoke(main, ["backup", "-o", str(backup)])
    assert written.exit_code == 0, written.output
    assert "holds personal data" in written.output and "readable only by you" in written.output
    assert mode(backup) == 0o600
    assert [p.name for p in tmp_path.glob("*backup*")] == ["backup.json"]  # nothing left over
    private(fresh.outbox_dir)
    private(fresh.pdf_cache_dir)
    private(tmp_path / "p")  # the pack written where the user asked
    database_files_are_private(fresh)


def test_files_the_web_app_writes_are_for_their_owner_alone(fresh, monkeypatch):
    database.upgrade(database.make_engine(fresh.database_url))  # the core, not the CLI
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False})
    assert mode(fresh.data_dir) == 0o700
    assert mode(fresh.data_dir / "secret_key") == 0o600
    client = app.test_client()
    sign_in(client, add_user(app))
    make_set(client)
    sending = send_and_deliver(client, app, "/sets/set-a/invites/send")
    assert "delivered to the outbox folder" in sending.get_data(as_text=True)
    assert send_and_deliver(client, app, "/sets/set-a/self-assessment/send").status_code == 200
    assert mode(fresh.queue_file) == 0o600
    response = client.get("/sets/set-a/sessions/session-1/print/handout.pdf")
    assert response.status_code == 200, response.text
    assert os.umask(0o022) == 0o022  # the app never needed the CLI's umask
    private(fresh.outbox_dir)
    private(fresh.pdf_cache_dir)
    database_files_are_private(fresh)
