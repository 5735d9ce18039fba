"""Learning-set files: parse, import (create and update), export, and all-or-nothing failures."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from toolkit import db as database
from toolkit.accounts import authenticate, create_user
from toolkit.casebank import Bank, load_bank
from toolkit.config import REPO_ROOT
from toolkit.datafiles import DataFileError
from toolkit.models import Base, LearningSet, User
from toolkit.session_templates import load_session_templates
from toolkit.setfile import export_set, import_set, parse_set_file
from toolkit.sets import SetError, local, meetings_in_order

from .conftest import PASSWORD

EXAMPLE = REPO_ROOT / "examples" / "learning-set.yaml"
SETFILES = Path(__file__).parent / "data" / "setfiles"
SLUG = "kss-fy-2027-set-a"


@pytest.fixture(scope="module")
def bank() -> Bank:
    return load_bank(REPO_ROOT / "casebank")


@pytest.fixture(scope="module")
def templates():
    return load_session_templates(REPO_ROOT / "session_templates")


@pytest.fixture
def factory(env):
    return database.session_factory(database.make_engine(env.database_url))


@pytest.fixture
def load(factory, bank, templates):
    """Parse a file and import it in one transaction; return the change notes."""

    def run(path: Path) -> list[str]:
        set_file = parse_set_file(path, bank, templates)
        with database.transaction(factory) as db:
            return import_set(db, set_file, bank, templates)[1]

    return run


def the_set(db, slug: str = SLUG) -> LearningSet:
    return db.scalar(select(LearningSet).where(LearningSet.slug == slug))


def sessions(factory, slug: str = SLUG) -> dict:
    """{session id: (sequence, status, local start)} for every meeting of the set."""
    with factory() as db:
        return {m.key: (m.sequence, m.status, local(m)) for m in the_set(db, slug).meetings}


def exported(factory, slug: str = SLUG) -> str:
    with factory() as db:
        return export_set(the_set(db, slug))


def edited(tmp_path: Path, *changes: tuple[str, str]) -> Path:
    """A copy of the example with each (old, new) text replaced once."""
    text = EXAMPLE.read_text("utf-8")
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / "learning-set.yaml"
    path.write_text(text, "utf-8")
    return path


def row_counts(factory) -> dict[str, int]:
    with factory() as db:
        return {
            t.name: db.scalar(select(func.count()).select_from(t))
            for t in Base.metadata.sorted_tables
        }


def sequences(factory) -> dict[str, int]:
    return {key: seq for key, (seq, _status, _start) in sessions(factory).items()}


def test_example_creates_the_set_with_clock_times_kept_across_the_change(factory, load):
    notes = load(EXAMPLE)
    assert f"created the set '{SLUG}'" in notes
    with factory() as db:
        learning_set = the_set(db)
        assert learning_set.title == "KSS Foundation leadership set A"
        assert learning_set.programme_title == "KSS Foundation leadership programme 2026-27"
        assert learning_set.ground_rules.splitlines()[-1].startswith("Bleeps go to")
        names = [m.name for m in learning_set.members]
        assert len(names) == 6 and "Zoë Marsh" in names and "Łukasz Wiśniewski" in names
        meetings = meetings_in_order(learning_set)
        assert [m.key for m in meetings] == [f"session-{n}" for n in range(1, 7)]
        assert {local(m).strftime("%H:%M") for m in meetings} == {"14:00"}
        offsets = [local(m).utcoffset() for m in meetings]
        assert offsets == [timedelta(0)] * 3 + [timedelta(hours=1)] * 3
        assert [m.starts_at.hour for m in meetings[2:4]] == [14, 13]  # UTC
        assert [m.template_id for m in meetings] == [
            "first-meeting",
            "action-learning-set",
            "action-learning-set",
            "case-discussion",
            "action-learning-set",
            "final-review",
        ]
        assert [m.sequence for m in meetings] == [0] * 6
        assert meetings[5].minutes == 165 and meetings[0].minutes == 180
        assert [c.case_id for c in meetings[3].cases] == ["the-stalled-sepsis-project"]
        assert [p.prompt_id for p in meetings[3].prompts][0] == "explore-where-power-sits"
        by_id = {m.id: m.email for m in learning_set.members}
        rounds = [b for b in meetings[1].blocks if b.kind == "presenter"]
        assert [by_id[b.presenter_id].split("@")[0] for b in rounds] == [
            "zoe.marsh",
            "lukasz.wisniewski",
            "aoife.nibhriain",
        ]


def test_unknown_facilitator_gets_an_account_without_a_password(factory, load):
    notes = load(EXAMPLE)
    assert any("s.oneil@example.nhs.uk" in n and "password" in n for n in notes)
    with factory() as db:
        user = db.scalar(select(User).where(User.email == "s.oneil@example.nhs.uk"))
        assert user.name == "Dr Siobhán O'Neil" and user.password_hash == ""
        assert authenticate(db, user.email, "") is None
        assert the_set(db).facilitators == [user]


def test_known_facilitator_is_linked_not_duplicated(factory, load):
    with database.transaction(factory) as db:
        create_user(db, "S.ONeil@example.nhs.uk", PASSWORD, "Siobhán")
    load(EXAMPLE)
    with factory() as db:
        assert db.scalar(select(func.count(User.id))) == 1
        user = the_set(db).facilitators[0]
        assert user.name == "Siobhán" and authenticate(db, user.email, PASSWORD) is user


def test_export_import_export_is_byte_identical(factory, load, tmp_path):
    load(EXAMPLE)
    first = exported(factory)
    assert "name: Zoë Marsh" in first and "\\u" not in first
    assert "status: cancelled" not in first and "schedule:" not in first
    path = tmp_path / "exported.yaml"
    path.write_text(first, "utf-8")
    load(path)
    assert exported(factory) == first
    assert set(sequences(factory).values()) == {0}


def test_reimporting_an_unchanged_file_bumps_no_sequence(factory, load):
    load(EXAMPLE)
    before = row_counts(factory)
    notes = load(EXAMPLE)
    assert [n for n in notes if not n.startswith("warning:")] == []
    assert set(sequences(factory).values()) == {0}
    assert row_counts(factory) == before


def test_moving_one_session_bumps_only_that_session(factory, load, tmp_path):
    load(EXAMPLE)
    notes = load(edited(tmp_path, ("start: 2027-04-08 14:00", "start: 2027-04-15 15:30")))
    assert any(n.startswith("session-4: time or place changed") for n in notes)
    assert sequences(factory) == {f"session-{n}": int(n == 4) for n in range(1, 7)}
    _seq, _status, start = sessions(factory)["session-4"]
    assert start.strftime("%Y-%m-%d %H:%M %z") == "2027-04-15 15:30 +0100"
    load(edited(tmp_path, ("start: 2027-04-08 14:00", "start: 2027-04-15 15:30")))
    assert sequences(factory)["session-4"] == 1  # the same move again is no change


def test_cancelling_a_session_bumps_it_and_sets_its_status(factory, load, tmp_path):
    load(EXAMPLE)
    title = "    title: Action learning set 3\n"
    path = edited(tmp_path, (title, title + "    status: cancelled\n"))
    notes = load(path)
    assert "session-5: cancelled" in notes
    state = sessions(factory)
    assert state["session-5"][:2] == (1, "cancelled")
    assert [seq for key, (seq, *_) in state.items() if key != "session-5"] == [0] * 5
    assert exported(factory).count("status: cancelled") == 1
    load(path)
    assert sessions(factory)["session-5"][:2] == (1, "cancelled")


def test_template_change_rebuilds_the_agenda(factory, load, tmp_path):
    load(EXAMPLE)
    old = "    template: action-learning-set\n    title: Action learning set 3\n"
    new = "    template: short-action-learning-set\n    title: Action learning set 3\n"
    notes = load(edited(tmp_path, (old, new)))
    assert any("session-5: agenda rebuilt" in n for n in notes)
    with factory() as db:
        meeting = next(m for m in the_set(db).meetings if m.key == "session-5")
        assert meeting.template_id == "short-action-learning-set"
        assert meeting.minutes == 120 and meeting.sequence == 1  # the slot got shorter
        assert sum(b.kind == "presenter" for b in meeting.blocks) == 2


def test_members_are_added_updated_and_deactivated(factory, load, tmp_path):
    load(EXAMPLE)
    rhodri = "  - {name: Rhodri ap Siôn, email: rhodri.apsion@example.nhs.uk, grade: ST3}\n"
    ines = "  - {name: Inês Ferreira, email: ines.ferreira@example.nhs.uk, grade: CT2}\n"
    path = edited(
        tmp_path,
        (rhodri, ines),
        ("grade: FY2}\n  - {name: Łukasz", "grade: ST1}\n  - {name: Łukasz"),
        ("      rhodri.apsion@example.nhs.uk: present\n", ""),
        ("    owner: rhodri.apsion@example.nhs.uk\n", ""),
    )
    load(path)
    with factory() as db:
        members = {m.email: m for m in the_set(db).members}
        assert len(members) == 7
        assert members["rhodri.apsion@example.nhs.uk"].active is False
        assert members["ines.ferreira@example.nhs.uk"].active is True
        assert members["zoe.marsh@example.nhs.uk"].grade == "ST1"
    members = {m["email"]: m for m in yaml.safe_load(exported(factory))["members"]}
    assert members["rhodri.apsion@example.nhs.uk"]["active"] is False  # history kept
    assert "active" not in members["ines.ferreira@example.nhs.uk"]


def test_sessions_left_out_of_the_file_are_cancelled_not_deleted(factory, load, tmp_path):
    load(EXAMPLE)
    text = EXAMPLE.read_text("utf-8")
    path = tmp_path / "five.yaml"
    path.write_text(text[: text.index("  - id: session-6")], "utf-8")
    notes = load(path)
    assert "session-6: not in the file, so cancelled" in notes
    assert sessions(factory)["session-6"][:2] == (1, "cancelled")


def test_schedule_form_expands_to_count_sessions(factory, load, tmp_path):
    load(SETFILES / "schedule.yaml")
    state = sessions(factory, "kss-ct-2027-set-e")
    starts = [state[f"session-{n}"][2] for n in range(1, 5)]
    assert [s.strftime("%Y-%m-%d %H:%M") for s in starts] == [
        "2027-03-11 09:30",
        "2027-03-25 09:30",
        "2027-04-08 09:30",
        "2027-04-22 09:30",
    ]
    assert [s.utcoffset() for s in starts] == [timedelta(0)] * 2 + [timedelta(hours=1)] * 2
    text = exported(factory, "kss-ct-2027-set-e")
    assert "template: short-action-learning-set" in text and "schedule:" not in text
    path = tmp_path / "exported.yaml"
    path.write_text(text, "utf-8")
    load(path)
    assert exported(factory, "kss-ct-2027-set-e") == text


MANY = [
    (3, "timezone: unknown time zone 'Europe/Londres'"),
    (5, "colour: is not a known field"),
    (9, "zoe.marsh@example.nhs.uk is already a member (line 7)"),
    (10, "email: 'not-an-address' is not an e-mail address"),
    (14, "template: unknown session template 'first-meetin'"),
    (16, "start: write the local date and time as YYYY-MM-DD HH:MM"),
    (20, "presenters[1]: ines.ferreira@example.nhs.uk is not among the set's members"),
    (21, "session id 'session-2' is already used (line 15)"),
    (24, "cases[1]: no case 'the-missing-case' in the case bank"),
    (25, "prompts[1]: no prompt 'no-such-prompt' in the prompt bank"),
    (26, "status: Input should be 'scheduled' or 'cancelled'"),
]
BAD_FILES = {
    "many-problems.yaml": MANY,
    "bad-yaml.yaml": [(6, "bad YAML: expected ',' or '}'")],
    "both-forms.yaml": [(9, "give 'sessions' or 'schedule', not both")],
    "neither.yaml": [
        (1, "id: 'Set G' is not an id"),
        (1, "list the sessions under 'sessions' or give a 'schedule'"),
        (3, "facilitator.email: is required but missing"),
    ],
    "bad-starts.yaml": [
        (5, "start: 2027-03-28 01:30 does not exist in Europe/London"),
        (7, "start: '2027-02-30 14:00' is not a real date and time"),
        (9, "start: write the local date and time as YYYY-MM-DD HH:MM"),
        (11, "start: write the local date and time as YYYY-MM-DD HH:MM"),
    ],
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_report_every_problem_and_change_nothing(name, factory, load, bank, templates):
    load(EXAMPLE)
    before = row_counts(factory)
    path = SETFILES / name
    with pytest.raises(DataFileError) as caught:
        load(path)
    found = [str(p) for p in caught.value.problems]
    expected = [(f"{path}:{line}: ", text) for line, text in BAD_FILES[name]]
    assert len(found) == len(expected), found
    for problem, (where, text) in zip(found, expected, strict=True):
        assert problem.startswith(where + text), problem
    assert row_counts(factory) == before


def test_a_failure_part_way_through_an_import_changes_nothing(factory, bank, templates):
    set_file = parse_set_file(EXAMPLE, bank, templates)
    before = row_counts(factory)
    no_cases = Bank(cases={}, prompts=bank.prompts)
    with pytest.raises(SetError, match="no case 'the-stalled-sepsis-project'"):
        with database.transaction(factory) as db:
            import_set(db, set_file, no_cases, templates)
    assert row_counts(factory) == before
    assert before["learning_sets"] == 0 and before["users"] == 0


def test_the_documented_example_is_the_example_file():
    text = (REPO_ROOT / "docs" / "learning-set-file.md").read_text("utf-8")
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert yaml.safe_load(block) == yaml.safe_load(EXAMPLE.read_text("utf-8"))


def test_cases_prompts_and_presenters_follow_the_file_without_a_bump(factory, load, tmp_path):
    load(EXAMPLE)
    path = edited(
        tmp_path,
        ("cases: [the-stalled-sepsis-project]", "cases: [running-on-empty, one-bed-two-referrals]"),
        (
            "      - explore-where-power-sits\n      - options-who-to-persuade\n",
            "      - options-who-to-persuade\n",
        ),
        ("      - lukasz.wisniewski@example.nhs.uk\n      - aoife.nibhriain@example.nhs.uk\n", ""),
    )
    notes = load(path)
    assert "session-4: detached case 'the-stalled-sepsis-project'" in notes
    assert "session-2: presenters changed" in notes
    assert set(sequences(factory).values()) == {0}
    with factory() as db:
        meetings = {m.key: m for m in the_set(db).meetings}
        four = meetings["session-4"]
        assert [c.case_id for c in four.cases] == ["running-on-empty", "one-bed-two-referrals"]
        assert [p.prompt_id for p in four.prompts] == [
            "options-who-to-persuade",
            "learning-leading-without-authority",
        ]
        emails = {m.id: m.email for m in the_set(db).members}
        rounds = [b for b in meetings["session-2"].blocks if b.kind == "presenter"]
        assert [emails.get(b.presenter_id) for b in rounds] == [
            "zoe.marsh@example.nhs.uk",
            None,
            None,
        ]


def test_the_file_names_its_programme_by_id_and_an_unknown_id_is_refused(
    factory, bank, templates, tmp_path
):
    from toolkit.models import Programme
    from toolkit.programmes.records import create_programme
    from toolkit.setfile import import_file

    with database.transaction(factory) as db:
        create_programme(db, "kss-2026", "KSS Foundation leadership programme 2026-27")
    old = "programme: KSS Foundation leadership programme 2026-27"
    unknown = edited(tmp_path, (old, "programme: no-such-programme"))
    with pytest.raises(DataFileError) as caught:
        import_file(factory, unknown, bank, templates)
    assert [str(p) for p in caught.value.problems] == [
        f"{unknown}:7: programme: no programme 'no-such-programme' (see `toolkit programmes list`)"
    ]
    assert row_counts(factory)["learning_sets"] == 0
    # an older file's free-text programme is matched by its title
    import_file(factory, EXAMPLE, bank, templates)
    with factory() as db:
        assert the_set(db).programme_id == "kss-2026"
        assert db.scalar(select(func.count(Programme.id))) == 1
    # one that matches no programme becomes one; exported, the file names it by id
    import_file(
        factory, edited(tmp_path, (old, "programme: Wessex core trainees")), bank, templates
    )
    with factory() as db:
        assert the_set(db).programme.title == "Wessex core trainees"
        assert "programme: wessex-core-trainees\n" in export_set(the_set(db))
    by_id = edited(tmp_path, (old, "programme: kss-2026"))
    import_file(factory, by_id, bank, templates)
    with factory() as db:
        assert the_set(db).programme_id == "kss-2026"
