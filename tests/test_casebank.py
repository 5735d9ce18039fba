import shutil
from pathlib import Path

import pytest

from toolkit.case_profile import grade_group, word_count
from toolkit.casebank import (
    CaseFilter,
    covering,
    filter_cases,
    load_bank,
    load_case,
    series_parts,
)
from toolkit.config import REPO_ROOT
from toolkit.datafiles import DataFileError

DATA = Path(__file__).parent / "data"


def test_loads_good_bank():
    bank = load_bank(DATA / "casebank")
    assert sorted(bank.cases) == ["budget-for-the-clinic", "night-shift-escalation"]
    case = bank.cases["night-shift-escalation"]
    assert case.stages == ("foundation",)
    assert case.tags.gpc == ("gpc-5", "gpc-6")
    assert case.questions[0] == "What is Zoë weighing up?"
    assert len(bank.cases["budget-for-the-clinic"].questions) == 4  # bulleted list
    assert "SECRET-FACILITATOR-NOTE" in case.facilitator_notes
    assert bank.prompts["process-how-did-we-question"].audience == "facilitator"


def test_repository_bank_and_templates_are_valid():
    bank = load_bank(REPO_ROOT / "casebank")
    assert len(bank.cases) >= 12
    assert len(bank.prompts) >= 60


def _problems(folder: Path) -> list[str]:
    with pytest.raises(DataFileError) as caught:
        load_bank(folder)
    return [str(p) for p in caught.value.problems]


def test_bad_bank_reports_every_problem_with_file_and_line():
    problems = _problems(DATA / "bad_casebank")
    cases = DATA / "bad_casebank" / "cases"
    prompts = DATA / "bad_casebank" / "prompts"
    expected = [
        f"{cases}/unknown-tag.md:8: hlm: unknown HLM id 'shouting-loudly'",
        f"{cases}/unknown-tag.md:10: gpc: unknown GPC id 'gpc-10'",
        f"{cases}/wrong-name.md:2: id 'not-the-file-name' does not match the file name",
        f"{cases}/missing-notes.md:18: missing or empty section '## Facilitator notes'",
        f"{cases}/bad-yaml.md:4: bad YAML",
        f"{cases}/bad-fields.md:5: stages[0]: Input should be 'foundation'",
        f"{cases}/bad-fields.md:7: minutes: Input should be a valid integer",
        f"{cases}/bad-fields.md:8: themse: is not a known field",
        f"{cases}/bad-profile.md:8: protagonist: 'a doctor' names no grade",
        f"{cases}/bad-profile.md:9: place: Input should be 'district-general'",
        f"{cases}/no-part.md:2: give both 'series' and 'part'",
        f"{cases}/series-gap.md:2: series 'half-a-story' has parts [2]: number its cases 1, 2",
        f"{prompts}/dupes.yaml:7: duplicate id 'explore-same'",
        f"{prompts}/dupes.yaml:14: stage: Input should be 'check-in'",
        f"{prompts}/dupes.yaml:17: duplicate key 'hlm'",
    ]
    for start in expected:
        assert any(p.startswith(start) for p in problems), (start, problems)


def test_duplicate_case_id_across_files(tmp_path):
    shutil.copytree(DATA / "casebank", tmp_path / "bank")
    copy = tmp_path / "bank" / "cases" / "copy.md"
    original = (tmp_path / "bank" / "cases" / "night-shift-escalation.md").read_text()
    copy.write_text(original.replace("id: night-shift-escalation", "id: copy"))
    prompt_copy = tmp_path / "bank" / "prompts" / "more.yaml"
    prompt_copy.write_text((DATA / "casebank" / "prompts" / "explore.yaml").read_text())
    problems = _problems(tmp_path / "bank")
    assert any("more.yaml:2: duplicate id 'explore-what-matters-most'" in p for p in problems)


def test_unknown_heading_and_unclosed_front_matter(tmp_path):
    path = tmp_path / "odd.md"
    path.write_text("---\nid: odd\n")
    with pytest.raises(DataFileError, match=r"odd.md:1: front matter is not closed"):
        load_case(path)
    good = (DATA / "casebank" / "cases" / "night-shift-escalation.md").read_text()
    path = tmp_path / "night-shift-escalation.md"
    path.write_text(good.replace("## Further reading", "## Answers"))
    with pytest.raises(DataFileError, match=r"night-shift-escalation.md:\d+: unknown section"):
        load_case(path)


def test_non_utf8_file_is_a_problem_not_a_crash(tmp_path):
    path = tmp_path / "latin.md"
    path.write_bytes("---\nid: latin\ntitle: Siobh\xe1n\n---\n".encode("latin-1"))
    with pytest.raises(DataFileError, match="latin.md:1: not UTF-8"):
        load_case(path)


def test_filters():
    bank = load_bank(DATA / "casebank")

    def ids(**kw):
        return [c.id for c in filter_cases(bank, CaseFilter(**kw))]

    assert ids(stage="foundation") == ["night-shift-escalation"]
    assert ids(setting="outpatients") == ["budget-for-the-clinic"]
    assert ids(hlm="influencing-for-results") == ["budget-for-the-clinic"]
    assert ids(mlcf="managing-services") == ["budget-for-the-clinic"]
    # a case tagged with the whole domain counts for each of its elements
    assert ids(mlcf="working-with-others.developing-networks") == ["night-shift-escalation"]
    assert ids(gpc="gpc-6") == ["night-shift-escalation"]
    assert ids(search="REGISTRAR wards") == ["night-shift-escalation"]
    assert ids(search="SECRET-FACILITATOR-NOTE") == []  # notes are not searched
    assert ids(stage="core") == []


def test_covering_counts_cases_and_prompts():
    bank = load_bank(DATA / "casebank")
    cases, prompts = covering(bank, "mlcf", "working-with-others")
    assert [c.id for c in cases] == ["night-shift-escalation"]
    assert {p.id for p in prompts} == {"explore-who-else", "process-how-did-we-question"}


@pytest.mark.parametrize(
    ("protagonist", "group"),
    [
        ("FY1", "foundation"),
        ("FY2 in general practice", "foundation"),
        ("CT2 in psychiatry", "core"),
        ("IMT3 acting as medical registrar", "core"),
        ("ST2 in paediatrics", "core"),
        ("ST5 in anaesthetics", "higher"),
        ("medical registrar", "higher"),
        ("ST6 in emergency medicine and chief registrar", "higher"),
        ("GP specialty trainee (ST2)", "gp-trainee"),
        ("GPST3 in a rural practice", "gp-trainee"),
        ("consultant radiologist", "senior"),
        ("GP partner and trainer", "senior"),
        ("salaried GP", "senior"),
        ("SAS doctor in emergency medicine", "other"),
        ("locally employed doctor", "other"),
        ("a doctor", None),
    ],
)
def test_protagonist_grade_groups(protagonist, group):
    assert grade_group(protagonist) == group


def test_case_profile_fields_load():
    case = load_bank(DATA / "casebank").cases["night-shift-escalation"]
    assert (case.protagonist, case.protagonist_group) == ("FY2 on nights", "foundation")
    assert (case.place, case.rural, case.appreciative) == ("district-general", False, False)
    assert case.short_trigger and case.scenario_words == 32
    assert case.summary_dict()["protagonist_group"] == "foundation"


def test_word_count_counts_words_not_punctuation():
    assert word_count("At 21:40 Zoë — an FY1 — calls Dr O'Neill's bleep.") == 9
    assert word_count("word " * 150) == 150


def test_a_series_loads_its_parts_in_order(tmp_path):
    shutil.copytree(DATA / "casebank", tmp_path / "bank")
    source = (tmp_path / "bank" / "cases" / "night-shift-escalation.md").read_text()
    for part in (3, 1, 2):
        text = source.replace("id: night-shift-escalation", f"id: night-part-{part}")
        text = text.replace(
            "place: district-general", f"place: district-general\nseries: night\npart: {part}"
        )
        (tmp_path / "bank" / "cases" / f"night-part-{part}.md").write_text(text)
    bank = load_bank(tmp_path / "bank")
    parts = series_parts(bank, bank.cases["night-part-2"])
    assert [c.id for c in parts] == ["night-part-1", "night-part-2", "night-part-3"]
    alone = bank.cases["night-shift-escalation"]
    assert series_parts(bank, alone) == [alone]
