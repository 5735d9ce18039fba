"""`filter_cases` answers from the bank's index exactly as checking every case would: the same
cases in the same order, for every kind of filter and for words found inside other words."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from toolkit.casebank import Bank, CaseFilter, filter_cases, load_bank
from toolkit.config import REPO_ROOT


def one_by_one(bank: Bank, case_filter: CaseFilter) -> list[str]:
    found = [c for c in bank.cases.values() if case_filter.matches(c)]
    return [c.id for c in sorted(found, key=lambda c: c.title.lower())]


@pytest.fixture(scope="module")
def bank() -> Bank:
    real = load_bank(REPO_ROOT / "casebank")
    copies = {}
    for n, case in enumerate(itertools.islice(itertools.cycle(real.cases.values()), 300)):
        copies[f"{case.id}-{n}"] = replace(case, id=f"{case.id}-{n}", title=f"{case.title} {n}")
    return Bank(copies, real.prompts, real.resources, real.statements)


SEARCHES = [None, "handover", "HANDOVER escalation", "andove", "ion ward", "7", "rota-", "xyzzy"]
FILTERS = [
    CaseFilter(),
    CaseFilter(hlm="engaging-the-team"),
    CaseFilter(mlcf="working-with-others"),
    CaseFilter(mlcf="working-with-others.encouraging-contribution"),
    CaseFilter(gpc="gpc-6", stage="foundation"),
    CaseFilter(setting="acute", stage="core"),
    CaseFilter(hlm="no-such-dimension"),
]


@pytest.mark.parametrize("search", SEARCHES)
def test_the_index_finds_what_checking_each_case_finds(bank, search):
    for case_filter in FILTERS:
        wanted = replace(case_filter, search=search)
        assert [c.id for c in filter_cases(bank, wanted)] == one_by_one(bank, wanted), wanted


def test_words_inside_other_words_are_found(bank):
    assert filter_cases(bank, CaseFilter(search="andove"))  # inside "handover"
    assert not filter_cases(bank, CaseFilter(search="xyzzy"))
