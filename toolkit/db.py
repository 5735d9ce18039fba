"""Database engine, schema migrations (Alembic) and the check that the schema is current."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.orm import Session, sessionmaker

from toolkit.private_files import create_private_file

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaOutOfDate(RuntimeError):
    """The database is not at the newest migration."""


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite files are made readable by their owner alone (SQLite gives the
    -wal and -shm files the same mode) and get WAL mode and enforced foreign keys."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        create_private_file(Path(url.removeprefix("sqlite:///")))
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _alembic_config(engine: Engine):
    from alembic.config import Config  # Alembic only where migrations run: commands start faster

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every migration (up to `revision`) that has not been applied yet."""
    from alembic import command

    command.upgrade(_alembic_config(engine), revision)


def head_revision() -> str:
    """The newest migration the code knows: revisions are numbered in order, one per file
    (`0009_….py`), so the head is the highest number (a test checks this against Alembic)."""
    return max(
        path.name[:4] for path in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")
    )


def schema_revisions(engine: Engine) -> tuple[str | None, str | None]:
    """The database's current revision and the newest one the code knows."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None, head_revision()
        current = connection.scalar(text("SELECT version_num FROM alembic_version"))
    return current, head_revision()


def check_schema(engine: Engine) -> None:
    """Raise SchemaOutOfDate, naming the command that fixes it, unless the schema is current."""
    current, head = schema_revisions(engine)
    if current != head:
        state = "has no tables yet" if current is None else f"is at revision {current}"
        raise SchemaOutOfDate(
            f"the database {state} but this version needs {head}: run `toolkit db upgrade`"
        )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory that keeps loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back everything on any error."""
    with factory() as session, session.begin():
        yield session
