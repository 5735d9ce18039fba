"""Read YAML data files with line numbers, so problems read `path:line: message`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one data file, at one line."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class DataFileError(Exception):
    """Raised when data files are invalid; carries every problem found, not just the first."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (str(p.path), p.line))
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class YamlDoc:
    """Parsed YAML plus the line of every key and list item, relative to the file."""

    path: Path
    data: Any
    lines: dict[Loc, int]
    problems: list[Problem]

    def line_of(self, loc: Loc) -> int:
        """Return the line of the deepest known part of `loc` (1 when nothing matches)."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return 1

    def problem(self, loc: Loc, message: str) -> Problem:
        """Build a problem located at `loc`."""
        return Problem(self.path, self.line_of(loc), message)


MAX_BYTES = 1_000_000  # no data file needs more; a bigger one is a mistake or an attack


def read_text(path: Path, limit: int = MAX_BYTES) -> str:
    """A data file's text; too big, unreadable or not UTF-8 becomes a problem, not a crash."""
    try:
        size = path.stat().st_size
        if size > limit:
            raise DataFileError(
                [Problem(path, 1, f"file is {size:,} bytes; the limit is {limit:,}")]
            )
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFileError([Problem(path, 1, f"not UTF-8 text ({exc.reason})")]) from None
    except OSError as exc:
        raise DataFileError([Problem(path, 1, f"cannot read the file ({exc.strerror})")]) from None


# libyaml's parser when PyYAML was built with it (the wheels are), else the pure-Python one:
# the same safe loader, several times faster, which is most of loading the case bank
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_DEPTH = 16  # the deepest data file nests 5 levels; thousands would exhaust the stack
_OPEN = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSE = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _checked_load(text: str, path: Path, first_line: int, loader_class):
    """(problems, node, data): the document is built only once `_refused` has passed it."""
    refused = _refused(text, path, first_line, loader_class)
    if refused:
        return refused, None, None
    return ([], *_load(text, loader_class))


def _load(text: str, loader_class) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (for line numbers) and its data, from one parse."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        return node, loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()


def _refused(text: str, path: Path, first_line: int, loader_class) -> list[Problem]:
    """Anchors, aliases and deep nesting are refused: data files never need them, and they can
    explode (billions of laughs) or exhaust the stack; events stream, so this stops early."""
    problems, depth = [], 0
    for event in yaml.parse(text, Loader=loader_class):
        line = first_line + event.start_mark.line
        depth += isinstance(event, _OPEN) - isinstance(event, _CLOSE)
        if depth > MAX_DEPTH:
            message = f"nested more than {MAX_DEPTH} levels deep; data files never need that"
            return [*problems, Problem(path, line, message)]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            problems.append(
                Problem(path, line, "YAML anchors and aliases (& and *) are not allowed")
            )
    return problems


def parse_yaml(text: str, path: Path, first_line: int = 1) -> YamlDoc:
    """Parse YAML safely; syntax errors and duplicate keys become problems, never exceptions."""
    try:
        try:
            refused, node, data = _checked_load(text, path, first_line, _LOADER)
        except yaml.YAMLError:  # said again by the pure-Python parser, whose words are clearer
            refused, node, data = _checked_load(text, path, first_line, yaml.SafeLoader)
        if refused:
            return YamlDoc(path, None, {}, refused)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = first_line + (mark.line if mark else _line_at(text, exc))
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return YamlDoc(path, None, {}, [Problem(path, line, f"bad YAML: {reason}")])
    doc = YamlDoc(path, data, {(): first_line}, [])
    if node is not None:
        _index(node, (), doc, first_line)
    return doc


def _line_at(text: str, exc: yaml.YAMLError) -> int:
    """Lines before the character a reader error points at (e.g. a NUL byte), from 0."""
    position = getattr(exc, "position", None)
    return text.count("\n", 0, position) if isinstance(position, int) else 0


def _index(node: yaml.Node, loc: Loc, doc: YamlDoc, first_line: int) -> None:
    """Record the line of every mapping key and sequence item below `node`."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            line = first_line + key_node.start_mark.line
            if key in seen:
                doc.problems.append(Problem(doc.path, line, f"duplicate key '{key}'"))
            seen.add(key)
            doc.lines[loc + (key,)] = line
            _index(value_node, loc + (key,), doc, first_line)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            doc.lines[loc + (i,)] = first_line + item.start_mark.line
            _index(item, loc + (i,), doc, first_line)


def validate(
    doc: YamlDoc, model: type[M], data: Any, loc: Loc = (), context: dict | None = None
) -> M | None:
    """Validate `data` (at `loc` in `doc`) against `model`; on failure add problems, return None."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        for err in exc.errors():
            where = loc + tuple(err["loc"])
            doc.problems.append(doc.problem(where, _describe(err, where[len(loc) :])))
        return None


def _describe(err: dict, loc: Loc) -> str:
    """Turn one pydantic error into a short sentence naming the field."""
    field = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "missing":
        message = "is required but missing"
    elif err["type"] == "extra_forbidden":
        message = "is not a known field (check the spelling)"
    return f"{field}: {message}" if field else message
