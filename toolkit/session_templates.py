"""Session templates: the formats a meeting is built from, as YAML data files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from toolkit.casebank import SLUG
from toolkit.datafiles import DataFileError, Problem, parse_yaml, read_text, validate

BlockKind = Literal[
    "welcome",
    "check-in",
    "ground-rules",
    "introductions",
    "action-review",
    "bidding",
    "presenter",
    "case",
    "input",
    "break",
    "process-review",
    "evaluation",
    "close",
]
BLOCK_KINDS: tuple[str, ...] = BlockKind.__args__
# what each kind is called on pages and in prints: plain words, not the file format's ids
KIND_LABELS: dict[str, str] = {
    "welcome": "Welcome",
    "check-in": "Check-in",
    "ground-rules": "Ground rules",
    "introductions": "Introductions",
    "action-review": "Reviewing actions",
    "bidding": "Bidding for airtime",
    "presenter": "Presenter round",
    "case": "Case discussion",
    "input": "Teaching or an exercise",
    "break": "Break",
    "process-review": "Process review: how did we work?",
    "evaluation": "Evaluation",
    "close": "Close",
}


class BlockMeta(BaseModel):
    """One block of a session template."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1)
    kind: BlockKind
    minutes: int = Field(ge=1, le=240)
    notes: str = ""
    handout: bool = True
    repeat: Literal["presenters"] | None = None

    @model_validator(mode="after")
    def _repeat_only_presenters(self) -> BlockMeta:
        if self.repeat and self.kind != "presenter":
            raise ValueError("'repeat: presenters' is only for blocks of kind 'presenter'")
        return self


class TemplateMeta(BaseModel):
    """A session template file."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(pattern=SLUG)
    name: str = Field(min_length=1)
    session_title: str = Field(default="", max_length=80)
    description: str = Field(min_length=1)
    mode: Literal["action-learning", "case-based"] = "action-learning"
    minutes: int = Field(ge=15, le=480)
    presenters: int = Field(default=0, ge=0, le=8)
    blocks: list[BlockMeta] = Field(min_length=1)


@dataclass(frozen=True)
class BlockTemplate:
    """A block as the template describes it; `repeat` blocks expand to one round per presenter."""

    title: str
    kind: str
    minutes: int
    notes: str
    handout: bool
    repeat: str | None


@dataclass(frozen=True)
class SessionTemplate:
    """A session format: slot length, default presenters and ordered blocks."""

    id: str
    name: str
    session_title: str
    description: str
    mode: str
    minutes: int
    presenters: int
    blocks: tuple[BlockTemplate, ...]
    path: Path

    @property
    def short_title(self) -> str:
        """A new session's title: `session_title`, else the name without its bracketed part."""
        return self.session_title or self.name.split(" (")[0]

    def planned_minutes(self, presenters: int | None = None) -> int:
        """Total block minutes with `repeat` blocks expanded for the given number of presenters."""
        count = self.presenters if presenters is None else presenters
        return sum(b.minutes * (count if b.repeat else 1) for b in self.blocks)


def load_session_template(path: Path) -> SessionTemplate:
    """Load and validate one template file; raise DataFileError if anything is wrong."""
    doc = parse_yaml(read_text(path), path)
    meta = (
        None if doc.data is None and doc.problems else validate(doc, TemplateMeta, doc.data or {})
    )
    if meta and meta.id != path.stem:
        doc.problems.append(
            doc.problem(("id",), f"id '{meta.id}' does not match the file name '{path.stem}.yaml'")
        )
    if meta and any(b.repeat for b in meta.blocks) and meta.presenters == 0:
        doc.problems.append(doc.problem(("presenters",), "set 'presenters' for repeated blocks"))
    if doc.problems or meta is None:
        raise DataFileError(doc.problems)
    blocks = tuple(BlockTemplate(**b.model_dump()) for b in meta.blocks)
    template = SessionTemplate(**meta.model_dump(exclude={"blocks"}), blocks=blocks, path=path)
    if template.planned_minutes() > template.minutes:
        over = template.planned_minutes() - template.minutes
        raise DataFileError(
            [
                doc.problem(
                    ("minutes",),
                    f"blocks add up to {over} min more than the {meta.minutes}-min slot",
                )
            ]
        )
    return template


def load_session_templates(folder: Path) -> dict[str, SessionTemplate]:
    """Load every `*.yaml` template in `folder` by id; raise DataFileError listing all problems."""
    if not folder.is_dir():
        raise DataFileError([Problem(folder, 0, "session template folder not found")])
    templates: dict[str, SessionTemplate] = {}
    problems: list[Problem] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            template = load_session_template(path)
        except DataFileError as exc:
            problems.extend(exc.problems)
            continue
        templates[template.id] = template
    if problems:
        raise DataFileError(problems)
    return templates
