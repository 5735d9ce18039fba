"""Shared fixtures: a migrated database in a temporary data dir, the app, its client and the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from toolkit import db as database
from toolkit.accounts import create_user
from toolkit.config import Settings
from toolkit.web import create_app

DATA = Path(__file__).parent / "data"
PASSWORD = "correct horse battery"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Point every TOOLKIT_* setting at a temporary data dir with a migrated database."""
    monkeypatch.setenv("TOOLKIT_DATA_DIR", str(tmp_path / "instance"))
    for name in ("TOOLKIT_DATABASE_URL", "TOOLKIT_SECRET_KEY", "TOOLKIT_CASEBANK_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env()
    database.upgrade(database.make_engine(settings.database_url))
    return settings


@pytest.fixture
def app(env: Settings):
    """The app with CSRF off (a separate test checks CSRF is enforced)."""
    return create_app({"TESTING": True, "WTF_CSRF_ENABLED": False})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def add_user(app, email: str = "fac@example.org", admin: bool = False) -> str:
    """Create an account directly through the core and return its e-mail."""
    with database.transaction(app.extensions["toolkit"].sessions) as session:
        create_user(session, email, PASSWORD, "Dr Facilitator", admin)
    return email


def sign_in(client, email: str) -> None:
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.text


@pytest.fixture
def signed_in(app, client):
    """A client signed in as a facilitator."""
    sign_in(client, add_user(app))
    return client
