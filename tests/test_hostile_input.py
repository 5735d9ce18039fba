"""Hostile input: every loader either loads or reports `path:line` problems, never crashes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.casebank import load_bank, load_case, load_prompts, load_resources
from toolkit.config import REPO_ROOT
from toolkit.datafiles import DataFileError
from toolkit.session_templates import load_session_template, load_session_templates
from toolkit.setfile import parse_set_file

BANK = load_bank(REPO_ROOT / "casebank")
TEMPLATES = load_session_templates(REPO_ROOT / "session_templates")
LOADERS = {
    "case.md": load_case,
    "prompts.yaml": load_prompts,
    "resources.yaml": load_resources,
    "template.yaml": load_session_template,
    "set.yaml": lambda path: parse_set_file(path, BANK, TEMPLATES),
}
YAMLISH = st.text(
    alphabet=st.sampled_from(list("abc:- \n\t'\"[]{}#&*!|>%@`0123456789.,?\\\x00é")), max_size=300
)


def _check(tmp_path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    try:
        LOADERS[name](path)
    except DataFileError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert str(problem).startswith(f"{path}:"), problem


@pytest.mark.parametrize("name", sorted(LOADERS))
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=YAMLISH)
def test_random_text_loads_or_reports_problems(tmp_path, name, text):
    _check(tmp_path, name, text.encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize("name", sorted(LOADERS))
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=200))
def test_random_bytes_load_or_report_problems(tmp_path, name, data):
    _check(tmp_path, name, data)


@pytest.mark.parametrize("name", sorted(LOADERS))
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    value=st.one_of(
        st.none(), st.integers(), st.text(max_size=20), st.lists(st.integers(), max_size=3)
    ),
    key=st.sampled_from(
        ["id", "title", "stages", "minutes", "hlm", "blocks", "sessions", "members"]
    ),
)
def test_wrong_types_in_real_fields(tmp_path, name, key, value):
    import yaml

    body = yaml.safe_dump({key: value, "prompts": [{key: value}], "resources": [{key: value}]})
    if name == "case.md":
        body = f"---\n{body}---\n\n## Scenario\n\nx\n"
    _check(tmp_path, name, body.encode())


def test_billion_laughs_is_refused_quickly(tmp_path):
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for n in range(1, 12):
        prev, cur = chr(ord("a") + n - 1), chr(ord("a") + n)
        lines.append(f"{cur}: &{cur} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]")
    path = tmp_path / "prompts.yaml"
    path.write_text("\n".join(lines) + "\nprompts: *l\n")
    with pytest.raises(DataFileError, match=r"prompts.yaml:1: YAML anchors and aliases"):
        load_prompts(path)


def test_huge_file_is_refused_with_its_size(tmp_path):
    path = tmp_path / "prompts.yaml"
    path.write_text("prompts:\n" + "  - id: x\n" * 200_000)
    with pytest.raises(DataFileError, match=r"prompts.yaml:1: file is [\d,]+ bytes; the limit is"):
        load_prompts(path)


def test_unknown_keys_are_reported(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text(
        "id: template\nname: T\ndescription: d\nminutes: 60\ncolour: red\nblocks:\n"
        "  - {title: A, kind: check-in, minutes: 10, sparkle: yes}\n"
    )
    with pytest.raises(DataFileError) as caught:
        load_session_template(path)
    text = str(caught.value)
    assert "template.yaml:5: colour: is not a known field" in text
    assert "template.yaml:7: blocks[0].sparkle: is not a known field" in text
