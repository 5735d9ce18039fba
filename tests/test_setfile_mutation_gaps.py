"""Learning-set files: behaviour no test pinned until mutation testing (scripts/mutation.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from toolkit import db as database
from toolkit.accounts import create_user
from toolkit.casebank import load_bank
from toolkit.config import REPO_ROOT
from toolkit.datafiles import DataFileError
from toolkit.models import LearningSet
from toolkit.session_templates import load_session_templates
from toolkit.setfile import export_set, import_file, import_set, parse_set_file
from toolkit.sets import SetError

SCHEDULE = Path(__file__).parent / "data" / "setfiles" / "schedule.yaml"
BANK = load_bank(REPO_ROOT / "casebank")
TEMPLATES = load_session_templates(REPO_ROOT / "session_templates")
SLUG = "kss-fy-2027-set-a"
HLM = ["inspiring-shared-purpose", "leading-with-care"]
GPC = ["gpc-1", "gpc-3"]
MLCF = ["improving-services.encouraging-improvement-and-innovation", "working-with-others"]


def _problems(tmp_path: Path, old: str, new: str) -> list[str]:
    text = SCHEDULE.read_text("utf-8")
    assert old in text
    path = tmp_path / "set.yaml"
    path.write_text(text.replace(old, new), "utf-8")
    with pytest.raises(DataFileError) as caught:
        parse_set_file(path, BANK, TEMPLATES)
    return [str(p).removeprefix(f"{path}:") for p in caught.value.problems]


def test_a_series_that_reaches_a_time_the_clocks_skip_says_which_and_where(tmp_path):
    """Weekly at 01:30 from Sunday 14 March 2027: the third, 28 March, is when London's clocks
    go from 01:00 to 02:00. Reported at the series' `first`, line 10."""
    problems = _problems(
        tmp_path,
        "  first: 2027-03-11 09:30\n  every_weeks: 2\n  count: 4\n",
        "  first: 2027-03-14 01:30\n  every_weeks: 1\n  count: 3\n",
    )
    assert problems == ["10: the series reaches 2027-03-28 01:30, which does not exist locally"]


def test_a_series_is_checked_against_the_templates_and_its_limits_at_its_lines(tmp_path):
    problems = _problems(
        tmp_path,
        "  count: 4\n  template: short-action-learning-set\n",
        "  count: 0\n  template: no-such-template\n",
    )
    assert problems == [
        "12: count: Input should be greater than or equal to 1",
        "13: template: unknown session template 'no-such-template' (see `toolkit templates list`)",
    ]


@pytest.fixture
def factory(env):
    return database.session_factory(database.make_engine(env.database_url))


def _import(factory, path: Path) -> list[str]:
    set_file = parse_set_file(path, BANK, TEMPLATES)
    with database.transaction(factory) as db:
        return import_set(db, set_file, BANK, TEMPLATES)[1]


def _exported(factory) -> str:
    """The set's learning-set file as exported now."""
    with factory() as db:
        return export_set(db.scalar(select(LearningSet).where(LearningSet.slug == SLUG)))


def test_a_sessions_new_title_room_and_link_in_the_file_reach_the_session(factory, tmp_path):
    example = REPO_ROOT / "examples" / "learning-set.yaml"
    _import(factory, example)
    old = "    title: Action learning set 1\n"
    new = (
        "    title: Action learning set one\n"
        "    venue: Library, Room 5\n"
        "    video_url: https://teams.example/meet/room-5\n"
    )
    text = example.read_text("utf-8")
    assert text.count(old) == 1
    path = tmp_path / "learning-set.yaml"
    path.write_text(text.replace(old, new), "utf-8")
    notes = _import(factory, path)
    assert "session-2: renamed 'Action learning set one'" in notes
    assert "session-2: time or place changed (now 2027-01-14 14:00)" in notes
    with factory() as db:
        meeting = next(
            m
            for m in db.scalar(select(LearningSet).where(LearningSet.slug == SLUG)).meetings
            if m.key == "session-2"
        )
        assert (meeting.title, meeting.venue, meeting.video_url) == (
            "Action learning set one",
            "Library, Room 5",
            "https://teams.example/meet/room-5",
        )


def test_a_resource_the_facilitator_added_leaves_in_the_file_with_all_it_says(factory, tmp_path):
    """The example's own resource, given two areas of each framework: the export carries its
    description and every tag, so it imports the same anywhere."""
    example = REPO_ROOT / "examples" / "learning-set.yaml"
    old = "    mlcf: [improving-services.encouraging-improvement-and-innovation]\n"
    tags = f"    hlm: {HLM}\n    mlcf: {MLCF}\n    gpc: {GPC}\n"
    text = example.read_text("utf-8")
    assert text.count(old) == 1
    path = tmp_path / "learning-set.yaml"
    path.write_text(text.replace(old, tags), "utf-8")
    _import(factory, path)
    written = yaml.safe_load(_exported(factory))
    assert written["resources"] == [
        {
            "id": "riverside-qi-handbook",
            "title": "Riverside quality improvement handbook",
            "url": "https://qi.riverside.example.nhs.uk/handbook",
            "kind": "reading",
            "minutes": 20,
            "description": "The trust's own guide to planning a change, with its PDSA template.",
            "hlm": HLM,
            "mlcf": MLCF,
            "gpc": GPC,
        }
    ]


def test_another_facilitator_cannot_upload_over_a_set_that_is_not_theirs(factory, tmp_path):
    example = REPO_ROOT / "examples" / "learning-set.yaml"
    with database.transaction(factory) as db:
        owner = create_user(db, "s.oneil@example.nhs.uk", None, "Dr Siobhán O'Neil").id
        other = create_user(db, "r.patel@example.nhs.uk", None, "Dr Ravi Patel").id
    assert import_file(factory, example, BANK, TEMPLATES, uploader=owner)[0] == SLUG
    theirs = tmp_path / "learning-set.yaml"
    text = example.read_text("utf-8")
    theirs.write_text(
        text.replace("  name: Dr Siobhán O'Neil\n  email: s.oneil@example.nhs.uk\n", "")
        .replace(
            "facilitator:\n", "facilitator: {name: Dr Ravi Patel, email: r.patel@example.nhs.uk}\n"
        )
        .replace("title: KSS Foundation leadership set A", "title: Taken over"),
        "utf-8",
    )
    with pytest.raises(SetError) as refused:
        import_file(factory, theirs, BANK, TEMPLATES, uploader=other)
    assert str(refused.value) == (
        f"a set with the id '{SLUG}' already exists and is not yours to change"
    )
    with factory() as db:
        learning_set = db.scalar(select(LearningSet).where(LearningSet.slug == SLUG))
        assert learning_set.title == "KSS Foundation leadership set A"
        assert [u.id for u in learning_set.facilitators] == [owner]


def test_importing_a_series_again_finds_its_sessions_by_their_ids(factory):
    first = _import(factory, SCHEDULE)
    assert _import(factory, SCHEDULE) == []  # nothing to change
    with factory() as db:
        learning_set = db.scalar(select(LearningSet).where(LearningSet.slug == "kss-ct-2027-set-e"))
        assert sorted(m.key for m in learning_set.meetings) == [
            f"session-{n}" for n in (1, 2, 3, 4)
        ]
    assert first  # the first import said what it made


def test_an_action_changed_in_the_file_is_reported_by_its_first_words(factory, tmp_path):
    example = REPO_ROOT / "examples" / "learning-set.yaml"
    _import(factory, example)
    old = "handover problem.\n    due: before session 2\n"
    text = example.read_text("utf-8")
    assert text.count(old) == 1
    path = tmp_path / "learning-set.yaml"
    path.write_text(text.replace(old, old + "    status: done\n"), "utf-8")
    notes = _import(factory, path)
    assert notes == ["updated action 'Write down three questions I want the set to as...'"]


def test_an_admin_who_uploads_a_set_for_someone_else_stays_among_its_facilitators(factory):
    with database.transaction(factory) as db:
        admin = create_user(db, "admin@example.nhs.uk", None, "Ms Admin", is_admin=True).id
    import_file(factory, REPO_ROOT / "examples" / "learning-set.yaml", BANK, TEMPLATES, admin)
    with factory() as db:
        learning_set = db.scalar(select(LearningSet).where(LearningSet.slug == SLUG))
        assert sorted(u.email for u in learning_set.facilitators) == [
            "admin@example.nhs.uk",
            "s.oneil@example.nhs.uk",
        ]
        written = yaml.safe_load(export_set(learning_set))
    # a file names one facilitator: the set's oldest account
    assert written["facilitator"] == {"name": "Ms Admin", "email": "admin@example.nhs.uk"}


def test_a_link_that_is_not_https_is_refused_in_words(tmp_path):
    problems = _problems(
        tmp_path,
        "title: KSS core trainees set E\n",
        "title: KSS core trainees set E\nvideo_url: http://teams.example/meet/set-e\n",
    )
    assert problems == ["3: video_url: give a link starting https://"]


def test_new_actions_are_reported_by_a_first_line_of_at_most_fifty_characters(factory, tmp_path):
    example = REPO_ROOT / "examples" / "learning-set.yaml"
    _import(factory, example)
    fifty, long = "x" * 50, "y" * 51
    added = "".join(
        f"  - session: session-1\n    owner: zoe.marsh@example.nhs.uk\n    text: {text}\n"
        for text in (fifty, long, '"First line\\nsecond line"')
    )
    text = example.read_text("utf-8")
    path = tmp_path / "learning-set.yaml"
    path.write_text(text.replace("actions:\n", "actions:\n" + added, 1), "utf-8")
    notes = _import(factory, path)
    assert notes == [
        f"recorded action '{fifty}'",
        f"recorded action '{'y' * 47}...'",
        "recorded action 'First line'",
    ]


def test_long_lines_stay_whole_in_the_exported_file(factory):
    _import(factory, REPO_ROOT / "examples" / "learning-set.yaml")
    text = _exported(factory)
    said = "Ask my educational supervisor for ten minutes to talk through the rota gap I described."
    [line] = [line for line in text.splitlines() if said in line]  # not folded at 80 characters
    assert len(line) > 80


@pytest.mark.parametrize(
    "old, off, on",
    [
        ('  reminder:\n    days_before: 2\n    at: "09:00"\n', "reminder", "follow_up"),
        ('  follow_up:\n    days_after: 1\n    at: "09:00"\n', "follow_up", "reminder"),
    ],
    ids=["reminder", "follow_up"],
)
def test_a_message_switched_off_leaves_as_false(factory, tmp_path, old, off, on):
    example = REPO_ROOT / "examples" / "learning-set.yaml"
    text = example.read_text("utf-8")
    assert text.count(old) == 1
    path = tmp_path / "learning-set.yaml"
    path.write_text(text.replace(old, f"  {off}: false\n"), "utf-8")
    _import(factory, path)
    written = yaml.safe_load(_exported(factory))
    assert written["messages"][off] is False
    assert written["messages"][on]["at"] == "09:00"


def test_cases_and_pre_work_leave_in_the_order_the_file_last_gave(factory, tmp_path):
    """Imported in one order and then in the other: the export follows the second."""
    example = REPO_ROOT / "examples" / "learning-set.yaml"
    text = example.read_text("utf-8")
    cases, prework = "cases: [the-stalled-sepsis-project]", "prework: [riverside-qi-handbook]"
    assert text.count(cases) == text.count(prework) == 1
    two_cases = ["running-on-empty", "one-bed-two-referrals"]
    two_reads = ["riverside-qi-handbook", "healthcare-leadership-model"]
    path = tmp_path / "learning-set.yaml"
    for order in (1, -1):
        path.write_text(
            text.replace(cases, f"cases: [{', '.join(two_cases[::order])}]").replace(
                prework, f"prework: [{', '.join(two_reads[::order])}]"
            ),
            "utf-8",
        )
        _import(factory, path)
    written = yaml.safe_load(_exported(factory))
    [session] = [s for s in written["sessions"] if s.get("cases")]
    assert session["cases"] == two_cases[::-1]
    assert session["prework"] == two_reads[::-1]


def test_a_changed_agenda_keeps_its_presenters_with_their_rounds_in_order(factory, tmp_path):
    """Session 2 moved to a time that has passed (so the rota no longer chooses for it), its
    bidding block dropped, a fourth round added and its presenters left out of the file: each
    round keeps its own, and the new one has none."""
    _import(factory, REPO_ROOT / "examples" / "learning-set.yaml")
    text = _exported(factory)
    session_2 = text.index("- id: session-2")
    head, tail = text[:session_2], text[session_2:]
    bidding = tail.index("  - title: Bidding for airtime")
    bidding_end = tail.index("  - title: Presenter round 1")
    listed = tail.index("  presenters:\n")
    listed_end = tail.index("  cases:", listed)
    extra = "  - title: Presenter round 4\n    kind: presenter\n    minutes: 40\n"
    agenda = tail[bidding_end:listed].replace("  - title: Break", extra + "  - title: Break", 1)
    tail = (tail[:bidding] + agenda + tail[listed_end:]).replace(
        "start: 2027-01-14 14:00", "start: 2026-11-26 14:00", 1
    )
    path = tmp_path / "set.yaml"
    path.write_text(head + tail, "utf-8")
    notes = _import(factory, path)
    assert "session-2: agenda set from the file (10 blocks)" in notes
    with factory() as db:
        learning_set = db.scalar(select(LearningSet).where(LearningSet.slug == SLUG))
        emails = {m.id: m.email for m in learning_set.members}
        meeting = next(m for m in learning_set.meetings if m.key == "session-2")
        blocks = sorted(meeting.blocks, key=lambda b: b.position)
        assert [(b.kind, emails.get(b.presenter_id)) for b in blocks if b.kind == "presenter"] == [
            ("presenter", "zoe.marsh@example.nhs.uk"),
            ("presenter", "lukasz.wisniewski@example.nhs.uk"),
            ("presenter", "aoife.nibhriain@example.nhs.uk"),
            ("presenter", None),
        ]
        assert all(b.presenter_id is None for b in blocks if b.kind != "presenter")


def test_a_message_time_written_without_quotes_is_read_as_that_time(factory, tmp_path):
    """YAML reads an unquoted 17:45 as 1065 (base-60 minutes), which is taken back to 17:45;
    00:00 (like 09:00: a leading zero) it leaves as text."""
    example = REPO_ROOT / "examples" / "learning-set.yaml"
    text = example.read_text("utf-8")
    old = '    days_before: 2\n    at: "09:00"\n  follow_up:\n    days_after: 1\n    at: "09:00"\n'
    assert text.count(old) == 1
    new = "    days_before: 2\n    at: 00:00\n  follow_up:\n    days_after: 1\n    at: 17:45\n"
    path = tmp_path / "learning-set.yaml"
    path.write_text(text.replace(old, new), "utf-8")
    _import(factory, path)
    written = yaml.safe_load(_exported(factory))
    assert (written["messages"]["reminder"]["at"], written["messages"]["follow_up"]["at"]) == (
        "00:00",
        "17:45",
    )
