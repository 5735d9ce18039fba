from pathlib import Path

import pytest

from toolkit.config import REPO_ROOT
from toolkit.datafiles import DataFileError
from toolkit.session_templates import load_session_template, load_session_templates

REQUIRED = {
    "action-learning-set",
    "short-action-learning-set",
    "case-discussion",
    "first-meeting",
    "final-review",
}


def test_repository_templates_load_and_fit_their_slot():
    templates = load_session_templates(REPO_ROOT / "session_templates")
    assert REQUIRED <= set(templates)
    classic = templates["action-learning-set"]
    assert classic.presenters == 3
    assert 170 <= classic.minutes <= 200
    assert classic.planned_minutes() == 190  # 3 presenter rounds of 40 expanded
    assert classic.planned_minutes(2) == 150
    assert templates["short-action-learning-set"].minutes == 120
    assert templates["case-discussion"].mode == "case-based"
    for template in templates.values():
        assert template.planned_minutes() <= template.minutes


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def test_over_run_unknown_kind_and_repeat_errors(tmp_path):
    path = _write(
        tmp_path,
        "tight",
        "id: tight\nname: Tight\ndescription: d\nminutes: 30\nblocks:\n"
        "  - {title: A, kind: check-in, minutes: 20}\n"
        "  - {title: B, kind: close, minutes: 20}\n",
    )
    with pytest.raises(DataFileError, match=r"tight.yaml:4: .*10 min more than the 30-min slot"):
        load_session_template(path)
    path = _write(
        tmp_path,
        "odd",
        "id: odd\nname: Odd\ndescription: d\nminutes: 60\nblocks:\n"
        "  - title: A\n    kind: check-in\n    minutes: 10\n"
        "  - title: B\n    kind: dancing\n    minutes: 10\n"
        "  - title: C\n    kind: case\n    minutes: 10\n    repeat: presenters\n",
    )
    with pytest.raises(DataFileError) as caught:
        load_session_template(path)
    text = str(caught.value)
    assert "odd.yaml:10: blocks[1].kind: Input should be" in text
    assert "odd.yaml:12: blocks[2]: 'repeat: presenters' is only for blocks of kind" in text


def test_id_must_match_file_name(tmp_path):
    _write(
        tmp_path,
        "mine",
        "id: yours\nname: N\ndescription: d\nminutes: 60\nblocks:\n"
        "  - {title: A, kind: check-in, minutes: 10}\n",
    )
    with pytest.raises(DataFileError, match="mine.yaml:1: id 'yours' does not match"):
        load_session_templates(tmp_path)
