"""The content targets of the case bank: each counts what it says, at exactly its threshold."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from toolkit.bank_coverage import coverage_report
from toolkit.casebank import Bank, Tags, load_bank
from toolkit.frameworks import load_frameworks

DATA = Path(__file__).parent / "data"
BASE = load_bank(DATA / "casebank").cases["night-shift-escalation"]
LONG = "word " * 151
GPCS = tuple(f"gpc-{n}" for n in range(1, 10))
PROTAGONISTS = {
    "senior": "consultant",
    "foundation": "FY1",
    "core": "CT2 in psychiatry",
    "higher": "ST5 in anaesthetics",
    "gp-trainee": "GP specialty trainee (ST2)",
}
OWN_COUNT = ("gpc-5", "gpc-6", "gpc-7")  # the rest are on four cases each, four in a row


def bank_of(
    cases: int = 64,
    senior: int = 12,
    gp_trainee: int = 8,
    district_general: int = 28,
    primary_care: int = 10,
    rural: int = 2,
    appreciative: int = 4,
    short: int = 8,
    parts: int = 3,
    safeguarding: int = 4,
) -> Bank:
    """A bank of `cases` cases that meets every case target of issue #20 exactly by default."""
    grades = ["senior"] * senior + ["gp-trainee"] * gp_trainee
    grades += [g for g in ("foundation", "core", "higher") for _ in range(8)]
    places = ["district-general"] * district_general + ["primary-care"] * primary_care
    places += ["mental-health"] * 5 + ["community"] * 5 + ["teaching-tertiary"] * 3
    built = {}
    for i in range(cases):
        gpc = ("gpc-5", "gpc-6") if i < 10 else ()
        gpc += tuple(g for n, g in enumerate(GPCS) if i // 4 == n + 3 and g not in OWN_COUNT)
        if i < safeguarding:
            gpc += ("gpc-7",)
        built[f"case-{i}"] = replace(
            BASE,
            id=f"case-{i}",
            protagonist=PROTAGONISTS[grades[i]] if i < len(grades) else "SAS doctor",
            place=places[i] if i < len(places) else "other",
            rural=i < rural,
            appreciative=i < appreciative,
            scenario=BASE.scenario if i < short else LONG,
            series="story" if i < parts else None,
            part=i + 1 if i < parts else None,
            tags=Tags(BASE.tags.hlm, BASE.tags.mlcf, gpc),
        )
    return Bank(cases=built)


def missed(bank: Bank) -> set[str]:
    """Labels of the case targets (not framework or prompt targets) that the bank misses."""
    groups = ("totals", "cases by protagonist's grade", "cases by place", "kinds of case")
    report = coverage_report(bank, load_frameworks())
    wanted = [t for t in report if t.group in groups or t.group == "cases by GPC domain"]
    not_cases = ("prompts", "resources", "settings used by cases")
    return {t.label for t in wanted if not t.met and t.label not in not_cases}


def test_a_bank_at_every_threshold_meets_every_case_target():
    assert missed(bank_of()) == set()


@pytest.mark.parametrize(
    ("change", "label"),
    [
        ({"cases": 63}, "cases"),
        ({"senior": 13}, "consultant or GP partner (at most 20 % of 64 cases)"),
        ({"gp_trainee": 7}, "GP specialty trainee"),
        ({"district_general": 29}, "district general hospital (at most 45 % of 64 cases)"),
        ({"primary_care": 9}, "general practice and primary care"),
        ({"rural": 1}, "rural"),
        ({"appreciative": 3}, "appreciative (what went well)"),
        ({"short": 7}, "short triggers (scenario of 150 words or fewer)"),
        ({"parts": 2}, "cases in three parts across three meetings"),
        ({"safeguarding": 3}, "7 Capabilities in safeguarding vulnerable groups"),
    ],
)
def test_one_below_a_threshold_misses_that_target(change, label):
    bank = bank_of(**change)
    assert len(bank.cases) == change.get("cases", 64)  # extras come out of "SAS" and "other"
    assert label in missed(bank)


def test_prompts_without_a_gpc_tag_are_counted():
    bank = load_bank(DATA / "casebank")
    report = {t.label: t for t in coverage_report(bank, load_frameworks())}
    untagged = report["prompts missing an HLM, MLCF or GPC tag"]
    assert untagged.count == sum(1 for p in bank.prompts.values() if not p.tags.gpc) > 0
    assert not untagged.met and untagged.limit == "≤0"
