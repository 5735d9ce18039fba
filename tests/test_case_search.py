"""Finding cases: relevance, where a grade falls among the stages, and what suits a set."""

from __future__ import annotations

import pytest

from toolkit.case_search import (
    SetProfile,
    _score,
    fit,
    search_cases,
    set_profile,
    stage_for_grade,
)
from toolkit.casebank import load_bank


@pytest.fixture(scope="module")
def bank():
    return load_bank(__import__("toolkit.config").config.REPO_ROOT / "casebank")


@pytest.mark.parametrize(
    ("grade", "stage"),
    [
        ("FY1", "foundation"),
        ("F2", "foundation"),
        ("CT2", "core"),
        ("ST1", "core"),
        ("GPST1", "core"),
        ("GP ST2", "core"),
        ("GPST3", "higher"),
        ("ST4", "higher"),
        ("SpR", "higher"),
        ("Consultant", "continuing"),
        ("GP", "continuing"),
        ("Medical student", None),
    ],
)
def test_where_a_grade_falls_among_the_stages(grade, stage):
    assert stage_for_grade(grade) == stage


def test_a_gp_set_profile_comes_from_grades_and_names():
    profile = set_profile(["GPST1", "GPST2", "GPST3"], "Kent GP trainees set", "")
    assert profile == SetProfile(frozenset({"core", "higher"}), frozenset({"primary-care"}))
    foundation = set_profile(["FY1", "FY2"], "Foundation leadership set A", "KSS programme")
    assert foundation == SetProfile(frozenset({"foundation"}), frozenset())


def test_search_is_ranked_by_relevance_and_finds_every_match(bank):
    found = search_cases(bank, "sepsis")
    assert found[0].title == "The stalled sepsis project"  # the word is in its title
    every = [c for c in bank.cases.values() if "sepsis" in c.scenario.lower()]
    assert {c.id for c in every} <= {c.id for c in found}
    assert search_cases(bank, "") == []
    assert search_cases(bank, "sepsis zzzunknownword") == []


def test_ties_go_to_the_cases_that_suit_the_set(bank):
    gp = SetProfile(frozenset({"core"}), frozenset({"primary-care"}))
    found = search_cases(bank, "team", gp)
    order = [(_score(c, ["team"]), fit(c, gp)) for c in found]
    assert order == sorted(order, reverse=True)  # by relevance, then by how well it suits
    assert len({score for score, _fit in order}) < len(order)  # there were ties to break
