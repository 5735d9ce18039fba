"""The case bank and prompt bank: load, validate, filter and search the data files."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from toolkit.case_index import CaseIndex
from toolkit.case_profile import (
    GRADE_HINT,
    SHORT_TRIGGER_WORDS,
    Place,
    grade_group,
    word_count,
)
from toolkit.datafiles import DataFileError, Problem, YamlDoc, parse_yaml, read_text, validate
from toolkit.frameworks import Frameworks, load_frameworks, mlcf_covers

Stage = Literal["foundation", "core", "higher", "continuing"]
STAGES: tuple[str, ...] = Stage.__args__
Setting = Literal[
    "acute",
    "emergency",
    "surgery",
    "primary-care",
    "mental-health",
    "community",
    "paediatrics",
    "obstetrics",
    "intensive-care",
    "outpatients",
]
SETTINGS: tuple[str, ...] = Setting.__args__
# In the order a meeting or a set uses them: packs list prompts in this order.
QuestionStage = Literal[
    "check-in",
    "contracting",
    "clarify",
    "explore",
    "challenge",
    "feelings",
    "balint",
    "reflecting-back",
    "options",
    "action",
    "learning",
    "process-review",
    "check-out",
    "ending",
]
QUESTION_STAGES: tuple[str, ...] = QuestionStage.__args__
QUESTION_STAGE_LABELS: dict[str, str] = {
    "check-in": "Check-in",
    "contracting": "Contracting: agreeing how the set works",
    "clarify": "Clarifying",
    "explore": "Exploring",
    "challenge": "Challenging",
    "feelings": "Feelings",
    "balint": "Balint-style: the doctor and the patient",
    "reflecting-back": "Reflecting back to the presenter",
    "options": "Options",
    "action": "Action",
    "learning": "Learning",
    "process-review": "Process review",
    "check-out": "Check-out: ending a meeting",
    "ending": "Ending the set",
}
SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"
REQUIRED_SECTIONS = ("Scenario", "Discussion questions", "Facilitator notes")
OPTIONAL_SECTIONS = ("Further reading",)


def _check_tags(key: str, values: list[str], info: ValidationInfo) -> list[str]:
    """Refuse framework ids that the packaged frameworks do not define."""
    frameworks: Frameworks = (info.context or {}).get("frameworks") or load_frameworks()
    framework = frameworks.by_key(key)
    for value in values:
        if framework.get(value) is None:
            raise ValueError(
                f"unknown {framework.short} id '{value}' (see `toolkit frameworks list`)"
            )
    return values


class _Tagged(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    hlm: list[str] = []
    mlcf: list[str] = []
    gpc: list[str] = []

    @field_validator("hlm", "mlcf", "gpc")
    @classmethod
    def _known(cls, values: list[str], info: ValidationInfo) -> list[str]:
        return _check_tags(info.field_name, values, info)


class CaseMeta(_Tagged):
    """The front matter of a case file."""

    id: str = Field(pattern=SLUG)
    title: str = Field(min_length=1)
    summary: str = Field(min_length=1, max_length=300)
    stages: list[Stage] = Field(min_length=1)
    settings: list[Setting] = Field(min_length=1)
    minutes: int = Field(ge=5, le=180)
    themes: list[str] = []
    protagonist: str = Field(min_length=1, max_length=120)
    place: Place
    rural: bool = False
    appreciative: bool = False
    series: str | None = Field(default=None, pattern=SLUG)
    part: int | None = Field(default=None, ge=1, le=6)

    @field_validator("protagonist")
    @classmethod
    def _names_a_grade(cls, value: str) -> str:
        if grade_group(value) is None:
            raise ValueError(f"'{value}' names no grade: {GRADE_HINT}")
        return value

    @model_validator(mode="after")
    def _series_and_part_together(self) -> CaseMeta:
        if (self.series is None) != (self.part is None):
            raise ValueError("give both 'series' and 'part' (a case in parts), or neither")
        return self


class PromptMeta(_Tagged):
    """One prompt in a prompt file."""

    id: str = Field(pattern=SLUG)
    text: str = Field(min_length=1)
    stage: QuestionStage
    audience: Literal["participants", "facilitator"] = "participants"


class PromptFile(BaseModel):
    """A prompt file: a list of prompts under `prompts`."""

    model_config = ConfigDict(extra="forbid")
    prompts: list[dict] = Field(min_length=1)


@dataclass(frozen=True)
class Tags:
    """Framework tags shared by cases and prompts."""

    hlm: tuple[str, ...]
    mlcf: tuple[str, ...]
    gpc: tuple[str, ...]


@dataclass(frozen=True)
class ParticipantCase:
    """What participants may see of a case: everything except the facilitator notes."""

    id: str
    title: str
    summary: str
    scenario: str
    questions: tuple[str, ...]
    further_reading: str | None


@dataclass(frozen=True)
class Case:
    """A case vignette with its tags; `facilitator_notes` must never reach participants."""

    id: str
    title: str
    summary: str
    stages: tuple[str, ...]
    settings: tuple[str, ...]
    minutes: int
    tags: Tags
    themes: tuple[str, ...]
    scenario: str
    questions: tuple[str, ...]
    facilitator_notes: str
    further_reading: str | None
    path: Path
    line: int = 1
    protagonist: str = ""
    place: str = "other"
    rural: bool = False
    appreciative: bool = False
    series: str | None = None
    part: int | None = None

    @property
    def protagonist_group(self) -> str:
        """The protagonist's grade group (foundation, core, higher, gp-trainee, senior, other)."""
        return grade_group(self.protagonist) or "other"

    @property
    def scenario_words(self) -> int:
        """How many words the scenario runs to."""
        return word_count(self.scenario)

    @property
    def short_trigger(self) -> bool:
        """A short trigger: a scenario of at most 150 words, to open discussion quickly."""
        return self.scenario_words <= SHORT_TRIGGER_WORDS

    def for_participants(self) -> ParticipantCase:
        """The participant-facing part of the case (no facilitator notes)."""
        return ParticipantCase(
            self.id, self.title, self.summary, self.scenario, self.questions, self.further_reading
        )

    def summary_dict(self) -> dict:
        """The fields `toolkit cases list --json` prints."""
        return {
            "id": self.id,
            "title": self.title,
            "summary": self.summary,
            "stages": list(self.stages),
            "settings": list(self.settings),
            "minutes": self.minutes,
            "hlm": list(self.tags.hlm),
            "mlcf": list(self.tags.mlcf),
            "gpc": list(self.tags.gpc),
            "protagonist": self.protagonist,
            "protagonist_group": self.protagonist_group,
            "place": self.place,
            "rural": self.rural,
            "appreciative": self.appreciative,
            "short_trigger": self.short_trigger,
            "series": self.series,
            "part": self.part,
        }


@dataclass(frozen=True)
class Prompt:
    """A discussion prompt: one open question for one questioning stage."""

    id: str
    text: str
    stage: str
    audience: str
    tags: Tags
    path: Path
    line: int = 1

    @property
    def stage_label(self) -> str:
        """The stage in plain words, for pages and packs."""
        return QUESTION_STAGE_LABELS.get(self.stage, self.stage)


ResourceKind = Literal[
    "framework", "e-learning", "podcast", "blog", "video", "reading", "organisation"
]
RESOURCE_KINDS: tuple[str, ...] = ResourceKind.__args__
Level = Literal["essential", "proficient", "strong", "exemplary"]
LEVELS: tuple[str, ...] = Level.__args__


class ResourceMeta(_Tagged):
    """One entry of `resources.yaml`."""

    id: str = Field(pattern=SLUG)
    title: str = Field(min_length=1, max_length=300)
    url: str = Field(pattern=r"^https://\S+$", max_length=1000)
    kind: ResourceKind
    minutes: int = Field(ge=1, le=600)
    description: str = Field(min_length=1, max_length=300)


class ResourceFile(BaseModel):
    """`resources.yaml`: a list of resources under `resources`."""

    model_config = ConfigDict(extra="forbid")
    resources: list[dict] = Field(min_length=1)


@dataclass(frozen=True)
class Resource:
    """Something to read, watch, hear or do before or after a session."""

    id: str
    title: str
    url: str
    kind: str
    minutes: int
    description: str
    tags: Tags
    path: Path | None = None
    line: int = 1


class DimensionStatements(BaseModel):
    """One HLM dimension's behaviour statement at each level."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    id: str
    statements: dict[Level, str]

    @field_validator("id")
    @classmethod
    def _known(cls, value: str, info: ValidationInfo) -> str:
        return _check_tags("hlm", [value], info)[0]

    @field_validator("statements")
    @classmethod
    def _every_level(cls, value: dict[str, str]) -> dict[str, str]:
        missing = [level for level in LEVELS if not value.get(level)]
        if missing:
            raise ValueError(f"needs a statement for {', '.join(missing)}")
        return value


class AssessmentFile(BaseModel):
    """`self-assessment.yaml`: statements for every HLM dimension at every level."""

    model_config = ConfigDict(extra="forbid")
    levels: list[Level]
    dimensions: list[DimensionStatements]


@dataclass(frozen=True)
class Bank:
    """Every case, prompt and resource keyed by id, and the self-assessment statements."""

    cases: dict[str, Case] = field(default_factory=dict)
    prompts: dict[str, Prompt] = field(default_factory=dict)
    resources: dict[str, Resource] = field(default_factory=dict)
    statements: dict[str, dict[str, str]] = field(default_factory=dict)

    @cached_property
    def index(self) -> CaseIndex:
        """The cases indexed for searching: built on first use, kept with the bank."""
        return CaseIndex(self.cases, _searchable)


def load_bank(folder: Path, frameworks: Frameworks | None = None) -> Bank:
    """Load `cases/*.md` and `prompts/*.yaml` under `folder`; raise DataFileError listing all."""
    frameworks = frameworks or load_frameworks()
    problems: list[Problem] = []
    if not folder.is_dir():
        raise DataFileError([Problem(folder, 0, "case bank folder not found")])
    cases = _load_all(sorted((folder / "cases").glob("*.md")), load_case, frameworks, problems)
    prompt_lists = _load_all(
        sorted((folder / "prompts").glob("*.yaml")), load_prompts, frameworks, problems
    )
    prompts = [p for group in prompt_lists for p in group]
    resources = _optional(folder / "resources.yaml", load_resources, frameworks, problems, [])
    statements = _optional(
        folder / "self-assessment.yaml", load_statements, frameworks, problems, {}
    )
    problems += _duplicates(cases) + _duplicates(prompts) + _series_problems(cases)
    if problems:
        raise DataFileError(problems)
    return Bank(
        {c.id: c for c in cases},
        {p.id: p for p in prompts},
        {r.id: r for r in resources},
        statements,
    )


def _optional(path: Path, loader, frameworks: Frameworks, problems: list[Problem], empty):
    """Load an optional file; its problems join the rest."""
    if not path.exists():
        return empty
    try:
        return loader(path, frameworks)
    except DataFileError as exc:
        problems.extend(exc.problems)
        return empty


def _load_all(paths: list[Path], loader, frameworks: Frameworks, problems: list[Problem]) -> list:
    loaded = []
    for path in paths:
        try:
            loaded.append(loader(path, frameworks))
        except DataFileError as exc:
            problems.extend(exc.problems)
    return loaded


def _duplicates(items: Iterable[Case | Prompt]) -> list[Problem]:
    first: dict[str, Path] = {}
    problems = []
    for item in items:
        if item.id in first:
            problems.append(
                Problem(
                    item.path, item.line, f"duplicate id '{item.id}' (also in {first[item.id]})"
                )
            )
        first.setdefault(item.id, item.path)
    return problems


def load_case(path: Path, frameworks: Frameworks | None = None) -> Case:
    """Load one case file (YAML front matter + Markdown sections); raise DataFileError."""
    text = read_text(path)
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise DataFileError([Problem(path, 1, "missing front matter: start the file with '---'")])
    end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), None)
    if end is None:
        raise DataFileError([Problem(path, 1, "front matter is not closed with a '---' line")])
    doc = parse_yaml("\n".join(lines[1:end]), path, first_line=2)
    meta = _case_meta(doc, path, frameworks)
    sections = _sections(lines, end + 1, path, doc.problems)
    if doc.problems or meta is None:
        raise DataFileError(doc.problems)
    return _build_case(meta, sections, path, doc.line_of(("id",)))


def _case_meta(doc: YamlDoc, path: Path, frameworks: Frameworks | None) -> CaseMeta | None:
    if not isinstance(doc.data, dict):
        if doc.data is None and doc.problems:
            return None  # a YAML syntax error, already reported
        doc.problems.append(doc.problem((), "front matter must be a mapping of fields"))
        return None
    meta = validate(doc, CaseMeta, doc.data, context={"frameworks": frameworks})
    if meta and meta.id != path.stem:
        doc.problems.append(
            doc.problem(("id",), f"id '{meta.id}' does not match the file name '{path.stem}.md'")
        )
    return meta


def _sections(lines: list[str], start: int, path: Path, problems: list[Problem]) -> dict:
    """Split the body by `## ` headings into {heading: (line, text)}; note bad or missing ones."""
    sections: dict[str, tuple[int, list[str]]] = {}
    current: list[str] | None = None
    for number, line in enumerate(lines[start:], start + 1):
        heading = re.match(r"^##\s+(.+?)\s*$", line)
        if not heading:
            if current is not None:
                current.append(line)
            elif line.strip():
                problems.append(
                    Problem(path, number, "text before the first '## Scenario' heading")
                )
            continue
        name = heading.group(1)
        if name not in REQUIRED_SECTIONS + OPTIONAL_SECTIONS:
            allowed = ", ".join(REQUIRED_SECTIONS + OPTIONAL_SECTIONS)
            problems.append(Problem(path, number, f"unknown section '## {name}' (use {allowed})"))
        elif name in sections:
            problems.append(Problem(path, number, f"section '## {name}' appears twice"))
        current = []
        sections.setdefault(name, (number, current))
    for name in REQUIRED_SECTIONS:
        if name not in sections or not "\n".join(sections[name][1]).strip():
            problems.append(Problem(path, len(lines), f"missing or empty section '## {name}'"))
    return {name: (line, "\n".join(body).strip()) for name, (line, body) in sections.items()}


def _build_case(meta: CaseMeta, sections: dict, path: Path, line: int) -> Case:
    questions_line, questions_text = sections["Discussion questions"]
    questions = tuple(
        m.group(1).strip()
        for m in re.finditer(r"^\s*(?:\d+[.)]|[-*])\s+(.+)$", questions_text, re.M)
    )
    if not questions:
        message = "'## Discussion questions' needs a numbered or bulleted list"
        raise DataFileError([Problem(path, questions_line, message)])
    reading = sections.get("Further reading")
    return Case(
        id=meta.id,
        title=meta.title,
        summary=meta.summary,
        stages=tuple(meta.stages),
        settings=tuple(meta.settings),
        minutes=meta.minutes,
        tags=Tags(tuple(meta.hlm), tuple(meta.mlcf), tuple(meta.gpc)),
        themes=tuple(meta.themes),
        scenario=sections["Scenario"][1],
        questions=questions,
        facilitator_notes=sections["Facilitator notes"][1],
        further_reading=reading[1] if reading else None,
        path=path,
        line=line,
        protagonist=meta.protagonist,
        place=meta.place,
        rural=meta.rural,
        appreciative=meta.appreciative,
        series=meta.series,
        part=meta.part,
    )


def _series_problems(cases: list[Case]) -> list[Problem]:
    """A case in parts needs its series numbered 1, 2, … with no gap, no repeat, at least two."""
    series: dict[str, list[Case]] = {}
    for case in cases:
        if case.series:
            series.setdefault(case.series, []).append(case)
    problems = []
    for name, parts in sorted(series.items()):
        numbers = sorted(c.part for c in parts)
        if len(numbers) < 2 or numbers != list(range(1, len(numbers) + 1)):
            first = min(parts, key=lambda c: c.path)
            message = (
                f"series '{name}' has parts {numbers}: number its cases 1, 2, 3 … "
                "with no gap or repeat (a series needs at least two parts)"
            )
            problems.append(Problem(first.path, first.line, message))
    return problems


def series_parts(bank: Bank, case: Case) -> list[Case]:
    """All parts of the series `case` belongs to, in order (just `case` when not in one)."""
    if not case.series:
        return [case]
    parts = [c for c in bank.cases.values() if c.series == case.series]
    return sorted(parts, key=lambda c: c.part or 0)


def _load_entries(
    path: Path, key: str, file_model, item_model, frameworks: Frameworks | None, build
) -> list:
    """Load a YAML file holding a list under `key`; validate each entry; refuse duplicates."""
    doc = parse_yaml(read_text(path), path)
    if doc.data is None and doc.problems:
        raise DataFileError(doc.problems)
    if validate(doc, file_model, doc.data if doc.data is not None else {}) is None:
        raise DataFileError(doc.problems)
    items = []
    for i, raw in enumerate(doc.data[key]):
        meta = validate(doc, item_model, raw, (key, i), {"frameworks": frameworks})
        if meta:
            tags = Tags(tuple(meta.hlm), tuple(meta.mlcf), tuple(meta.gpc))
            items.append(build(meta, tags, doc.line_of((key, i, "id"))))
    doc.problems.extend(_duplicates(items))
    if doc.problems:
        raise DataFileError(doc.problems)
    return items


def load_prompts(path: Path, frameworks: Frameworks | None = None) -> list[Prompt]:
    """Load one prompt file; raise DataFileError listing every bad prompt."""

    def build(meta: PromptMeta, tags: Tags, line: int) -> Prompt:
        return Prompt(meta.id, meta.text, meta.stage, meta.audience, tags, path, line)

    return _load_entries(path, "prompts", PromptFile, PromptMeta, frameworks, build)


@dataclass(frozen=True)
class CaseFilter:
    """What a facilitator filters the case list by; empty fields match everything."""

    hlm: str | None = None
    mlcf: str | None = None
    gpc: str | None = None
    stage: str | None = None
    setting: str | None = None
    search: str | None = None

    def matches(self, case: Case) -> bool:
        """True when the case passes every filter that is set."""
        tags = case.tags
        return (
            (not self.hlm or self.hlm in tags.hlm)
            and (not self.mlcf or any(mlcf_covers(t, self.mlcf) for t in tags.mlcf))
            and (not self.gpc or self.gpc in tags.gpc)
            and (not self.stage or self.stage in case.stages)
            and (not self.setting or self.setting in case.settings)
            and (not self.search or _words_match(self.search, _searchable(case)))
        )


def _searchable(case: Case) -> str:
    parts = [case.id, case.title, case.summary, case.scenario, *case.questions, *case.themes]
    return " ".join(parts).lower()


def _words_match(query: str, haystack: str) -> bool:
    return all(word in haystack for word in query.lower().split())


def filter_cases(bank: Bank, case_filter: CaseFilter) -> list[Case]:
    """The cases that pass `case_filter`, ordered by title (from the bank's index: the same
    cases `CaseFilter.matches` passes, without reading every case)."""
    index = bank.index
    ids = index.everything
    for name in ("hlm", "mlcf", "gpc", "stage", "setting"):
        value = getattr(case_filter, name)
        if value:
            ids = ids & index.matching(name, value)
    for word in (case_filter.search or "").lower().split():
        ids = ids & index.containing(word)
    return [bank.cases[i] for i in sorted(ids, key=index.rank.__getitem__)]


def covering(bank: Bank, framework: str, area_id: str) -> tuple[list[Case], list[Prompt]]:
    """The cases and prompts tagged with a framework area (MLCF domains include their elements)."""

    def hit(tags: Tags) -> bool:
        values = getattr(tags, framework)
        if framework == "mlcf":
            return any(mlcf_covers(t, area_id) for t in values)
        return area_id in values

    cases = sorted((c for c in bank.cases.values() if hit(c.tags)), key=lambda c: c.title)
    prompts = [p for p in bank.prompts.values() if hit(p.tags)]
    return cases, prompts


def load_resources(path: Path, frameworks: Frameworks | None = None) -> list[Resource]:
    """Load `resources.yaml`; raise DataFileError listing every bad entry."""

    def build(meta: ResourceMeta, tags: Tags, line: int) -> Resource:
        fields = meta.model_dump(exclude={"hlm", "mlcf", "gpc"})
        return Resource(**fields, tags=tags, path=path, line=line)

    return _load_entries(path, "resources", ResourceFile, ResourceMeta, frameworks, build)


def load_statements(path: Path, frameworks: Frameworks | None = None) -> dict[str, dict[str, str]]:
    """Load `self-assessment.yaml`: every HLM dimension once, in HLM order, every level."""
    frameworks = frameworks or load_frameworks()
    doc = parse_yaml(read_text(path), path)
    meta = None
    if not (doc.data is None and doc.problems):
        meta = validate(doc, AssessmentFile, doc.data or {}, (), {"frameworks": frameworks})
    if meta:
        if tuple(meta.levels) != LEVELS:
            doc.problems.append(doc.problem(("levels",), f"levels must be {list(LEVELS)}"))
        ids = [d.id for d in meta.dimensions]
        wanted = [a.id for a in frameworks.hlm.areas]
        if ids != wanted:
            message = "dimensions must list each of the 9 HLM dimensions once, in HLM order"
            doc.problems.append(doc.problem(("dimensions",), message))
    if doc.problems or meta is None:
        raise DataFileError(doc.problems)
    return {d.id: dict(d.statements) for d in meta.dimensions}
