"""Shared fixtures: a migrated database in a temporary data dir, the app, its client and the CLI."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine

from toolkit import db as database
from toolkit.accounts import create_user
from toolkit.config import Settings
from toolkit.web import create_app

DATA = Path(__file__).parent / "data"
PASSWORD = "correct horse battery"


# Set by scripts/with-postgres.sh: run the suite against PostgreSQL instead of SQLite.
POSTGRES = os.environ.get("TOOLKIT_TEST_DATABASE_URL")


def _database_at(name: str) -> str:
    return POSTGRES.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def postgres_admin():
    """A connection for creating databases, and a migrated template to copy for each test."""
    if not POSTGRES:
        yield None
        return
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql("DROP DATABASE IF EXISTS toolkit_template WITH (FORCE)")
        connection.exec_driver_sql("CREATE DATABASE toolkit_template")
    template = database.make_engine(_database_at("toolkit_template"))
    database.upgrade(template)
    template.dispose()
    yield admin
    admin.dispose()


@pytest.fixture
def database_url(postgres_admin):
    """None for SQLite (a file in the data dir); with PostgreSQL, a fresh database per test."""
    if postgres_admin is None:
        yield None
        return
    name = f"test_{uuid.uuid4().hex[:12]}"
    with postgres_admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE toolkit_template")
    yield _database_at(name)
    with postgres_admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def new_database(postgres_admin, tmp_path):
    """Make further empty databases (not migrated) of the kind the suite runs on."""
    made: list[str] = []

    def make() -> str:
        name = f"extra_{uuid.uuid4().hex[:12]}"
        if postgres_admin is None:
            return f"sqlite:///{tmp_path / name}.sqlite3"
        with postgres_admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
        made.append(name)
        return _database_at(name)

    yield make
    for name in made:
        with postgres_admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str | None) -> Settings:
    """Point every TOOLKIT_* setting at a temporary data dir with a migrated database."""
    monkeypatch.setenv("TOOLKIT_DATA_DIR", str(tmp_path / "instance"))
    for name in (
        "TOOLKIT_DATABASE_URL",
        "TOOLKIT_SECRET_KEY",
        "TOOLKIT_CASEBANK_DIR",
        "TOOLKIT_QUEUE_URL",
        "TOOLKIT_SEND_LEASE",
        "TOOLKIT_SMTP_URL",
        "TOOLKIT_IMAP_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    if database_url:
        monkeypatch.setenv("TOOLKIT_DATABASE_URL", database_url)
    settings = Settings.from_env()
    if not database_url:
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


def send_and_deliver(client, app, url: str, **kwargs):
    """POST a send from the web, let the task queue deliver it here (one burst of its tasks),
    and return the send's progress page."""
    sent = client.post(url, **kwargs)
    assert sent.status_code == 302, sent.status_code
    app.extensions["toolkit"].queue.burst()
    return client.get(sent.headers["Location"])
