"""How well the bank covers the frameworks, grades, places and kinds of case, against targets."""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.case_profile import GRADE_GROUP_LABELS, PLACE_LABELS
from toolkit.casebank import QUESTION_STAGES, STAGES, Bank, Case
from toolkit.frameworks import Frameworks

# The content targets (issue #20). Shares are of all cases; minimums are counts.
MIN_CASES, MIN_PROMPTS, MIN_RESOURCES = 64, 220, 35
MAX_SENIOR_SHARE, MIN_PER_TRAINEE_GROUP = 0.20, 8
TRAINEE_GROUPS = ("foundation", "core", "higher", "gp-trainee")
MAX_DISTRICT_GENERAL_SHARE = 0.45
MIN_PER_PLACE = {"primary-care": 10, "mental-health": 5, "community": 5, "teaching-tertiary": 3}
MIN_RURAL, MIN_APPRECIATIVE, MIN_SHORT_TRIGGERS, MIN_THREE_PART = 2, 4, 8, 1
MIN_PER_GPC, MIN_GPC_5_AND_6 = 4, 10
NEW_PROMPT_STAGES = ("contracting", "check-out", "ending", "balint", "reflecting-back")
MIN_PER_PROMPT_STAGE, MIN_PER_NEW_PROMPT_STAGE = 8, 10


@dataclass(frozen=True)
class Target:
    """One line of the coverage report: a count with a floor, a ceiling, or both."""

    group: str
    label: str
    count: int
    minimum: int = 0
    maximum: int | None = None

    @property
    def met(self) -> bool:
        return self.count >= self.minimum and (self.maximum is None or self.count <= self.maximum)

    @property
    def limit(self) -> str:
        """The bound as printed: `40` for at least 40, `≤12` for at most 12."""
        return str(self.minimum) if self.maximum is None else f"≤{self.maximum}"


def _count(items, test) -> int:
    return sum(1 for item in items if test(item))


def _share_cap(share: float, total: int) -> int:
    """The most cases a share of `total` allows (20 % of 64 is 12)."""
    return int(share * total + 1e-9)


def coverage_report(bank: Bank, frameworks: Frameworks) -> list[Target]:
    """Counts for every target: totals, protagonists, places, kinds of case, frameworks, prompts."""
    cases, prompts = list(bank.cases.values()), list(bank.prompts.values())
    return [
        *_totals(bank),
        *_protagonists(cases),
        *_places(cases),
        *_kinds(cases),
        *_case_frameworks(cases, frameworks),
        *_prompt_coverage(prompts, frameworks),
    ]


def _totals(bank: Bank) -> list[Target]:
    cases, prompts = bank.cases.values(), bank.prompts.values()
    untagged = _count(prompts, lambda p: not (p.tags.hlm and p.tags.mlcf and p.tags.gpc))
    return [
        Target("totals", "cases", len(cases), MIN_CASES),
        Target("totals", "prompts", len(prompts), MIN_PROMPTS),
        Target("totals", "prompts missing an HLM, MLCF or GPC tag", untagged, maximum=0),
        Target("totals", "resources", len(bank.resources), MIN_RESOURCES),
        Target("totals", "settings used by cases", len({s for c in cases for s in c.settings}), 6),
    ]


def _protagonists(cases: list[Case]) -> list[Target]:
    group = "cases by protagonist's grade"
    cap = _share_cap(MAX_SENIOR_SHARE, len(cases))
    senior = _count(cases, lambda c: c.protagonist_group == "senior")
    label = f"{GRADE_GROUP_LABELS['senior']} (at most 20 % of {len(cases)} cases)"
    targets = [Target(group, label, senior, maximum=cap)]
    for grade in TRAINEE_GROUPS:
        count = _count(cases, lambda c, g=grade: c.protagonist_group == g)
        targets.append(Target(group, GRADE_GROUP_LABELS[grade], count, MIN_PER_TRAINEE_GROUP))
    return targets


def _places(cases: list[Case]) -> list[Target]:
    group = "cases by place"
    cap = _share_cap(MAX_DISTRICT_GENERAL_SHARE, len(cases))
    dgh = _count(cases, lambda c: c.place == "district-general")
    label = f"{PLACE_LABELS['district-general']} (at most 45 % of {len(cases)} cases)"
    targets = [Target(group, label, dgh, maximum=cap)]
    for place, minimum in MIN_PER_PLACE.items():
        count = _count(cases, lambda c, p=place: c.place == p)
        targets.append(Target(group, PLACE_LABELS[place], count, minimum))
    targets.append(Target(group, "rural", _count(cases, lambda c: c.rural), MIN_RURAL))
    return targets


def _kinds(cases: list[Case]) -> list[Target]:
    group = "kinds of case"
    parts: dict[str, int] = {}
    for case in cases:
        if case.series:
            parts[case.series] = parts.get(case.series, 0) + 1
    three_part = _count(parts.values(), lambda n: n >= 3)
    return [
        Target(group, "appreciative (what went well)", _count(cases, lambda c: c.appreciative),
               MIN_APPRECIATIVE),
        Target(group, "short triggers (scenario of 150 words or fewer)",
               _count(cases, lambda c: c.short_trigger), MIN_SHORT_TRIGGERS),
        Target(group, "cases in three parts across three meetings", three_part, MIN_THREE_PART),
    ]  # fmt: skip


def _case_frameworks(cases: list[Case], frameworks: Frameworks) -> list[Target]:
    targets = []
    for area in frameworks.hlm.areas:
        count = _tagged(cases, "hlm", area.id)
        targets.append(Target("cases by HLM dimension", area.label, count, 4))
    for area in frameworks.mlcf.areas:
        minimum = 2 if area.parent else 6
        count = _mlcf(cases, area.id, area.parent)
        targets.append(Target("cases by MLCF domain and element", area.label, count, minimum))
    for area in frameworks.gpc.areas:
        minimum = MIN_GPC_5_AND_6 if area.id in ("gpc-5", "gpc-6") else MIN_PER_GPC
        count = _tagged(cases, "gpc", area.id)
        targets.append(Target("cases by GPC domain", area.label, count, minimum))
    for stage in STAGES:
        count = _count(cases, lambda c, s=stage: s in c.stages)
        targets.append(Target("cases by stage", stage, count, 8))
    return targets


def _prompt_coverage(prompts: list, frameworks: Frameworks) -> list[Target]:
    targets = []
    for area in frameworks.mlcf.areas:
        if area.parent:
            count = _mlcf(prompts, area.id, area.parent)
            targets.append(Target("prompts by MLCF element", area.label, count, 4))
    for area in frameworks.hlm.areas:
        count = _tagged(prompts, "hlm", area.id)
        targets.append(Target("prompts by HLM dimension", area.label, count, 6))
    for stage in QUESTION_STAGES:
        count = _count(prompts, lambda p, s=stage: p.stage == s)
        new = stage in NEW_PROMPT_STAGES
        minimum = MIN_PER_NEW_PROMPT_STAGE if new else MIN_PER_PROMPT_STAGE
        targets.append(Target("prompts by stage", stage, count, minimum))
    return targets


def _tagged(items, key: str, area_id: str) -> int:
    return _count(items, lambda item: area_id in getattr(item.tags, key))


def _mlcf(items, area_id: str, parent: str | None) -> int:
    """Elements count only explicit element tags; domains count the domain or any element."""
    if parent:
        return _tagged(items, "mlcf", area_id)
    return _count(items, lambda i: any(t.split(".")[0] == area_id for t in i.tags.mlcf))
