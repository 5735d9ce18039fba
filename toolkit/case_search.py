"""Finding cases for a set: search ranked by relevance, and what suits its members' stages and
its setting (a GP set sees primary-care cases at its trainees' stages first)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from toolkit.casebank import Bank, Case

# Where a grade falls among the bank's career stages. GP specialty training is three years:
# GPST1-2 (mostly hospital posts) sit with core trainees, GPST3 (in practice) with higher ones.
STAGE_HINT = (
    "Foundation: FY1 and FY2. Core: CT1 to CT3, ST1 and ST2, and GP specialty trainees in "
    "years 1 and 2 (GPST1 and GPST2). Higher: ST3 and above, and GPST3. Continuing: "
    "consultants, GPs and SAS doctors after training."
)
_GRADES = (
    (re.compile(r"^(fy|f)\s*[12]$|foundation"), "foundation"),
    (re.compile(r"^(gp\s*st|gpst|gp\s*r|gpr|st)\s*[12]$|^(ct|cst|imt|accs)\s*\d|core"), "core"),
    (re.compile(r"^(gp\s*st|gpst|gp\s*r|gpr)\s*[34]$|^st\s*[3-9]$|^spr|higher|reg"), "higher"),
    (re.compile(r"consultant|^gp$|salaried|partner|sas|specialty doctor|post-?cct"), "continuing"),
)
# Words in a grade, or in the set's title or programme, that name a setting.
_SETTING_WORDS = (
    (re.compile(r"\bgp|general practice|primary care"), "primary-care"),
    (re.compile(r"psychiatr|mental health"), "mental-health"),
    (re.compile(r"paediatric|pediatric|child health"), "paediatrics"),
    (re.compile(r"obstetric|o&g|\bobs\b|gynae"), "obstetrics"),
    (re.compile(r"emergency|\bed\b|\bem\b"), "emergency"),
    (re.compile(r"intensive care|\bicu\b|\bitu\b|critical care"), "intensive-care"),
    (re.compile(r"surg"), "surgery"),
    (re.compile(r"community"), "community"),
)


@dataclass(frozen=True)
class SetProfile:
    """The career stages and settings a set's cases should suit; empty means "any"."""

    stages: frozenset[str]
    settings: frozenset[str]


def stage_for_grade(grade: str) -> str | None:
    """The bank's career stage for a grade such as "FY2", "GPST1" or "ST4" (None if unknown)."""
    plain = grade.strip().lower()
    return next((stage for pattern, stage in _GRADES if pattern.search(plain)), None)


def set_profile(grades: Iterable[str], *names: str) -> SetProfile:
    """The stages of the members' grades, and the settings their grades and the set's own
    names (title, programme) point to."""
    grades = list(grades)
    stages = {stage_for_grade(g) for g in grades} - {None}
    text = " ".join([*grades, *names]).lower()
    settings = {setting for pattern, setting in _SETTING_WORDS if pattern.search(text)}
    return SetProfile(frozenset(stages), frozenset(settings))


def fit(case: Case, profile: SetProfile) -> int:
    """How well a case suits a set: 2 for its setting, 1 for its members' stages."""
    setting = bool(profile.settings & set(case.settings))
    stage = bool(profile.stages & set(case.stages))
    return 2 * setting + stage


def _score(case: Case, words: list[str]) -> int:
    """Relevance: a word in the title counts most, then themes and summary, then the rest."""
    fields = (
        (5, case.title.lower()),
        (3, " ".join(case.themes).lower()),
        (2, case.summary.lower()),
        (1, " ".join([case.id, case.scenario, *case.questions]).lower()),
    )
    return sum(weight for word in words for weight, text in fields if word in text)


def search_cases(bank: Bank, query: str, profile: SetProfile | None = None) -> list[Case]:
    """Cases holding every word of `query`, most relevant first; ties go to the cases that
    suit the set (`profile`), then by title."""
    words = query.lower().split()
    if not words:
        return []
    scored = [(c, _score(c, words)) for c in bank.cases.values()]
    found = [(c, s) for c, s in scored if all(_score(c, [w]) for w in words)]
    suits = profile or SetProfile(frozenset(), frozenset())
    found.sort(key=lambda cs: (-cs[1], -fit(cs[0], suits), cs[0].title.lower()))
    return [c for c, _s in found]
