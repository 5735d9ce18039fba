"""How well the bank covers the frameworks, stages and settings, against the content targets."""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.casebank import QUESTION_STAGES, STAGES, Bank
from toolkit.frameworks import Frameworks


@dataclass(frozen=True)
class Target:
    """One line of the coverage report."""

    group: str
    label: str
    count: int
    minimum: int

    @property
    def met(self) -> bool:
        return self.count >= self.minimum


def _count(items, test) -> int:
    return sum(1 for item in items if test(item))


def coverage_report(bank: Bank, frameworks: Frameworks) -> list[Target]:
    """Counts for every target: cases per framework area, stage and setting; prompts likewise."""
    cases, prompts = list(bank.cases.values()), list(bank.prompts.values())
    targets = [
        Target("totals", "cases", len(cases), 40),
        Target("totals", "prompts", len(prompts), 150),
        Target("totals", "settings used by cases", len({s for c in cases for s in c.settings}), 6),
    ]
    for area in frameworks.hlm.areas:
        targets.append(
            Target("cases by HLM dimension", area.label, _tagged(cases, "hlm", area.id), 4)
        )
    for area in frameworks.mlcf.areas:
        minimum = 2 if area.parent else 6
        count = _mlcf(cases, area.id, area.parent)
        targets.append(Target("cases by MLCF domain and element", area.label, count, minimum))
    for gpc in ("gpc-5", "gpc-6"):
        label = frameworks.gpc.get(gpc).label
        targets.append(Target("cases by GPC domain", label, _tagged(cases, "gpc", gpc), 10))
    for stage in STAGES:
        targets.append(
            Target("cases by stage", stage, _count(cases, lambda c, s=stage: s in c.stages), 8)
        )
    for area in frameworks.mlcf.areas:
        if area.parent:
            count = _mlcf(prompts, area.id, area.parent)
            targets.append(Target("prompts by MLCF element", area.label, count, 4))
    for area in frameworks.hlm.areas:
        count = _tagged(prompts, "hlm", area.id)
        targets.append(Target("prompts by HLM dimension", area.label, count, 6))
    for stage in QUESTION_STAGES:
        count = _count(prompts, lambda p, s=stage: p.stage == s)
        targets.append(Target("prompts by stage", stage, count, 8))
    return targets


def _tagged(items, key: str, area_id: str) -> int:
    return _count(items, lambda item: area_id in getattr(item.tags, key))


def _mlcf(items, area_id: str, parent: str | None) -> int:
    """Elements count only explicit element tags; domains count the domain or any element."""
    if parent:
        return _tagged(items, "mlcf", area_id)
    return _count(items, lambda i: any(t.split(".")[0] == area_id for t in i.tags.mlcf))
