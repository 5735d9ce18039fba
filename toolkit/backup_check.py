"""Check a backup's rows against the schema before restoring: types, lengths, time zones,
unique keys and references, each problem as `table[row].field: what is wrong`.

Messages never quote a stored value except short, harmless ones (a time zone, a status, an id),
so a password hash or a token in the file never reaches the terminal or a log.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, String, Table, UniqueConstraint

from toolkit.models import UTCDateTime
from toolkit.replies import SOURCES as RSVP_SOURCES
from toolkit.replies import STATUSES as RSVP_STATUSES
from toolkit.resources import ROLES
from toolkit.self_assessment import PHASES
from toolkit.sets import ACTION_STATUSES, ATTENDANCE, SetError, check_zone

INTEGERS = (-(2**31), 2**31 - 1)  # PostgreSQL's integer, the narrowest database we support


def _shown(value: str) -> str:
    """A short value quoted with control characters escaped, safe to print."""
    return repr(value[:60])


def _zone(value: str) -> str | None:
    try:
        check_zone(value)
    except SetError:
        return f"unknown time zone {_shown(value)} (use a name such as Europe/London)"
    return None


def _one_of(allowed: tuple[str, ...]) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return None if value in allowed else f"{_shown(value)} is not one of {', '.join(allowed)}"

    return check


MEANINGS: dict[tuple[str, str], Callable[[Any], str | None]] = {
    ("learning_sets", "time_zone"): _zone,
    ("attendance", "status"): _one_of(ATTENDANCE),
    ("actions", "status"): _one_of(ACTION_STATUSES),
    ("meeting_resources", "role"): _one_of(ROLES),
    ("self_ratings", "phase"): _one_of(PHASES),
    ("assessment_phases", "phase"): _one_of(PHASES),
    ("rsvps", "status"): _one_of(RSVP_STATUSES),
    ("rsvps", "source"): _one_of(RSVP_SOURCES),
}


def _kind(value: object) -> str:
    """What a JSON value is, in words (never the value itself)."""
    if isinstance(value, bool):
        return "true or false"
    names = {str: "text", int: "a number", float: "a number", list: "a list", dict: "an object"}
    return names.get(type(value), "null")


def _text(value: object, length: int | None) -> str | None:
    if not isinstance(value, str):
        return f"expected text, found {_kind(value)}"
    if "\x00" in value:
        return "contains a NUL character, which the database cannot store"
    if length and len(value) > length:
        return f"{len(value)} characters, longer than the {length} the column holds"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "not valid Unicode (an unpaired surrogate)"
    return None


def _moment(value: object) -> str | None:
    if not isinstance(value, str):
        return f"expected a date and time, found {_kind(value)}"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return "not a date and time in ISO 8601 form, e.g. 2027-03-25T14:00:00+00:00"
    return None if parsed.tzinfo else "a date and time without a UTC offset"


def _type_problem(kind: object, value: object) -> str | None:
    """Whether a non-null value fits the column's type."""
    if isinstance(kind, UTCDateTime):
        return _moment(value)
    if isinstance(kind, Boolean):
        return None if isinstance(value, bool) else f"expected true or false, found {_kind(value)}"
    if isinstance(kind, Integer):
        if not isinstance(value, int) or isinstance(value, bool):
            return f"expected a whole number, found {_kind(value)}"
        low, high = INTEGERS
        return None if low <= value <= high else f"a number outside {low}..{high}"
    if isinstance(kind, String):
        return _text(value, kind.length)
    return None


def _value_problem(table: Table, column: str, value: object) -> str | None:
    if value is None:
        return None if table.columns[column].nullable else "missing a value (null)"
    problem = _type_problem(table.columns[column].type, value)
    meaning = MEANINGS.get((table.name, column))
    return problem or (meaning(value) if meaning else None)


def _row_problems(table: Table, where: str, row: object) -> list[str]:
    if not isinstance(row, dict):
        return [f"{where}: expected an object of fields, found {_kind(row)}"]
    problems = [f"{where}: unknown field {_shown(str(k))}" for k in row if k not in table.columns]
    for column in table.columns.keys():
        if column not in row:
            problems.append(f"{where}.{column}: missing")
        elif problem := _value_problem(table, column, row[column]):
            problems.append(f"{where}.{column}: {problem}")
    return problems


def _shape_problems(tables: list[Table], data: dict) -> list[str]:
    """Every table present as a list of rows, each field of the right type and meaning."""
    known = {t.name for t in tables}
    problems = [f"tables: unknown table {_shown(str(name))}" for name in data if name not in known]
    for table in tables:
        rows = data.get(table.name)
        if not isinstance(rows, list):
            problems.append(f"tables.{table.name}: missing, or not a list of rows")
            continue
        for index, row in enumerate(rows):
            problems += _row_problems(table, f"{table.name}[{index}]", row)
    return problems


def _unique_keys(table: Table) -> list[tuple[str, ...]]:
    keys = [tuple(c.name for c in table.primary_key.columns)]
    keys += [
        tuple(c.name for c in constraint.columns)
        for constraint in table.constraints
        if isinstance(constraint, UniqueConstraint)
    ]
    return keys


def _duplicates(table: Table, rows: list[dict]) -> list[str]:
    """Rows that repeat a primary key or a unique value of an earlier row."""
    problems = []
    for columns in _unique_keys(table):
        seen: dict[tuple, int] = {}
        for index, row in enumerate(rows):
            key = tuple(row[c] for c in columns)
            if None in key:
                continue
            if key in seen:
                where = f"{table.name}[{index}].{'+'.join(columns)}"
                problems.append(f"{where}: the same as {table.name}[{seen[key]}]; must be unique")
            seen.setdefault(key, index)
    return problems


def _dangling(table: Table, data: dict) -> list[str]:
    """References to rows the backup does not have."""
    problems = []
    for foreign in table.foreign_key_constraints:
        target = foreign.referred_table.name
        local = [c.name for c in foreign.columns]
        remote = [e.column.name for e in foreign.elements]
        present = {tuple(row[c] for c in remote) for row in data.get(target, [])}
        for index, row in enumerate(data[table.name]):
            key = tuple(row[c] for c in local)
            if None not in key and key not in present:
                shown = ", ".join(str(v) if isinstance(v, int) else _shown(v) for v in key)
                where = f"{table.name}[{index}].{'+'.join(local)}"
                problems.append(f"{where}: no {target} row with {'+'.join(remote)} {shown}")
    return problems


def check_tables(tables: list[Table], data: object) -> list[str]:
    """Every problem in a backup's `tables`; keys and references only once the types are right."""
    if not isinstance(data, dict):
        return [f"tables: expected an object of tables, found {_kind(data)}"]
    problems = _shape_problems(tables, data)
    if problems:
        return problems
    for table in tables:
        problems += _duplicates(table, data[table.name]) + _dangling(table, data)
    return problems
