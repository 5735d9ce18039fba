"""Backups: every table as portable JSON, restored whole into an empty database or not at all."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, Engine, Integer, Table, func, insert, select, text
from sqlalchemy.exc import SQLAlchemyError

from toolkit.backup_check import check_tables
from toolkit.db import schema_revisions
from toolkit.models import Base, UTCDateTime
from toolkit.private_files import write_private

FORMAT = "learning-set-toolkit backup"
# transient, or secrets that should not outlive the database: sign-ins end with a restore
SKIPPED = {"login_throttles", "sign_ins", "password_resets"}
MAX_PROBLEMS = 20  # listed in full; the rest are counted


class BackupError(ValueError):
    """A backup file that cannot be restored here, and why (with one line per problem found)."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


def _tables() -> list[Table]:
    return [t for t in Base.metadata.sorted_tables if t.name not in SKIPPED]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


def make_backup(engine: Engine) -> dict:
    """All rows of every table, with the schema revision they belong to."""
    revision, _head = schema_revisions(engine)
    tables = {}
    with engine.connect() as connection:
        for table in _tables():
            order = [c for c in table.primary_key.columns]
            rows = connection.execute(select(table).order_by(*order)).mappings()
            tables[table.name] = [{k: _plain(v) for k, v in row.items()} for row in rows]
    return {
        "format": FORMAT,
        "revision": revision,
        "created": datetime.now(UTC).isoformat(),
        "tables": tables,
    }


def write_backup(engine: Engine, path: Path) -> dict[str, int]:
    """Write the backup to `path` (atomically, readable by its owner alone: it holds password
    hashes, members' links and ratings); return rows per table."""
    data = make_backup(engine)
    write_private(path, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))
    return {name: len(rows) for name, rows in data["tables"].items()}


def _value(table: Table, column: str, value: Any) -> Any:
    kind = table.columns[column].type
    if value is None:
        return None
    if isinstance(kind, UTCDateTime):
        return datetime.fromisoformat(value)
    if isinstance(kind, Boolean):
        return bool(value)
    if isinstance(kind, Integer):
        return int(value)
    return value


def read_backup(path: Path, engine: Engine) -> dict:
    """Load and check a backup file against this database's schema."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BackupError(f"{path}: not a readable backup ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BackupError(f"{path}: not a learning-set toolkit backup")
    current, head = schema_revisions(engine)
    if data.get("revision") != current:
        raise BackupError(
            f"{path}: the backup is from schema revision {data.get('revision')}, the database is "
            f"at {current}: restore into a database at the backup's revision, then upgrade"
        )
    problems = [f"{path}: {problem}" for problem in check_tables(_tables(), data.get("tables"))]
    if problems:
        more = len(problems) - MAX_PROBLEMS
        listed = problems[:MAX_PROBLEMS] + ([f"... and {more} more"] if more > 0 else [])
        raise BackupError(f"{len(problems)} problem(s) in {path}", listed)
    return data


def restore_backup(engine: Engine, data: dict) -> dict[str, int]:
    """Insert every row into an empty database in one transaction; return rows per table."""
    counts = {}
    with engine.begin() as connection:
        for table in _tables():
            if connection.scalar(select(func.count()).select_from(table)):
                raise BackupError(
                    f"the database already has data in '{table.name}': restore needs an empty "
                    "database (run `toolkit db upgrade` on a new one)"
                )
        for table in _tables():
            rows = [
                {k: _value(table, k, v) for k, v in row.items()}
                for row in data["tables"].get(table.name, [])
            ]
            if rows:
                _insert(connection, table, rows)
            counts[table.name] = len(rows)
        if connection.dialect.name == "postgresql":
            _reset_sequences(connection)
    return counts


def _insert(connection, table: Table, rows: list[dict]) -> None:
    """Insert the rows; a refusal names the table and the database's reason, never the rows
    (which may hold password hashes), and rolls the whole restore back."""
    try:
        connection.execute(insert(table), rows)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or type(exc).__name__).splitlines()[0]
        raise BackupError(f"the database refused a row of '{table.name}': {reason}") from None


def _reset_sequences(connection) -> None:
    """After inserting explicit ids, point each id sequence past the highest id."""
    for table in _tables():
        # only integer ids have a sequence (a programme's id and an evaluation answer's are text)
        column = table.autoincrement_column
        if column is None or column.name != "id":
            continue
        connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
            )
        )
