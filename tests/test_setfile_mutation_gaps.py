"""Learning-set files: behaviour no test pinned until mutation testing (scripts/mutation.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from toolkit import db as database
from toolkit.accounts import create_user
from toolkit.casebank import load_bank
from toolkit.config import REPO_ROOT
from toolkit.datafiles import DataFileError
from toolkit.models import CustomResource, LearningSet, Rsvp, User
from toolkit.session_templates import load_session_templates
from toolkit.setfile import export_set, import_file, import_set, parse_set_file
from toolkit.sets import SetError

from .test_setfile import edited

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


def test_the_first_import_of_a_series_reports_all_it_made_in_order(factory):
    assert _import(factory, SCHEDULE) == [
        "created an account for t.obriain@example.nhs.uk; it needs a password before sign-in",
        "created the set 'kss-ct-2027-set-e'",
        "added member Zoë Marsh <zoe.marsh@example.nhs.uk>",
        "added member Łukasz Wiśniewski <lukasz.wisniewski@example.nhs.uk>",
        "added member Aoife Ní Bhriain <aoife.nibhriain@example.nhs.uk>",
        "added member Rhodri ap Siôn <rhodri.apsion@example.nhs.uk>",
        "session-1: added for 2027-03-11 09:30 (short-action-learning-set)",
        "session-2: added for 2027-03-25 09:30 (short-action-learning-set)",
        "session-3: added for 2027-04-08 09:30 (short-action-learning-set)",
        "session-4: added for 2027-04-22 09:30 (short-action-learning-set)",
    ]


# a new session with its own id, a 60-minute slot and no presenters; in place of session-3
KICK_OFF = (
    "  - id: session-3\n    start: 2027-02-25 14:00\n",
    "  - id: kick-off-two\n    minutes: 60\n    start: 2027-03-04 14:00\n",
)


def test_an_update_reports_each_change_in_order_and_warns_of_overruns(factory, tmp_path):
    """A second facilitator, a renamed set, a bank resource's id and a new resource, a changed
    grade, a member gone, a session replaced by one that overruns its slot, a cancelled session
    that would overrun (no warning: it will not run), an action gone. Sessions whose presenters
    the rota changed are named; the new session's are simply proposed."""
    example_notes = _import(factory, REPO_ROOT / "examples" / "learning-set.yaml")
    path = edited(
        tmp_path,
        (
            "facilitator:\n  name: Dr Siobhán O'Neil\n  email: s.oneil@example.nhs.uk\n",
            "facilitator: {name: Dr Ravi Patel, email: r.patel@example.nhs.uk}\n",
        ),
        ("title: KSS Foundation leadership set A", "title: KSS Foundation set A"),
        (
            "resources:\n",
            "resources:\n"
            "  - {id: healthcare-leadership-model, title: Mine, url: 'https://x.example/a',"
            " kind: reading, minutes: 5}\n"
            "  - {id: ward-rota-guide, title: The ward rota guide, url: 'https://x.example/b',"
            " kind: reading, minutes: 5}\n",
        ),
        ("grade: FY2}\n  - {name: Łukasz", "grade: ST1}\n  - {name: Łukasz"),
        (
            "  - {name: Chidera Okonkwo-Hale, email: chidera.okonkwo-hale@example.nhs.uk,"
            " grade: CT1}\n",
            "",
        ),
        ("      chidera.okonkwo-hale@example.nhs.uk: apologies\n", ""),
        KICK_OFF,
        (
            "    title: Action learning set 3\n",
            "    title: Action learning set 3\n    minutes: 60\n    status: cancelled\n",
        ),
        (
            "  - session: session-1\n    owner: anais.dubois@example.nhs.uk\n",
            "  - session: session-1\n    owner: anais.dubois@example.nhs.uk\n    status: dropped\n",
        ),
    )
    text = path.read_text("utf-8")
    start = text.index("  - session: session-1\n    owner: anais.dubois")
    path.write_text(text[:start], "utf-8")  # the last action, dropped above, goes altogether
    assert _import(factory, path) == [
        "created an account for r.patel@example.nhs.uk; it needs a password before sign-in",
        "changed the set's title",
        "r.patel@example.nhs.uk now facilitates the set",
        "warning: resource 'healthcare-leadership-model' is already in the library; kept",
        "added resource 'ward-rota-guide' to the library",
        "updated member Zoë Marsh <zoe.marsh@example.nhs.uk>",
        "removed member Chidera Okonkwo-Hale <chidera.okonkwo-hale@example.nhs.uk>"
        " (history is kept)",
        "session-3: not in the file, so cancelled",
        "session-1: attendance recorded for 5 member(s)",
        "kick-off-two: added for 2027-03-04 14:00 (action-learning-set)",
        "session-5: time or place changed (now 2027-05-20 14:00)",
        "session-5: cancelled",
        "removed action 'Shadow the discharge coordinator for an hour to...' (not in the file)",
        "session-6: presenters follow the rota",
        "warning: kick-off-two: The agenda runs 130 min over the slot: it would end at 17:10"
        " instead of 15:00. 'Presenter round 1' is the first block that ends late; shorten or"
        " remove blocks, or lengthen the session.",
    ]
    assert "session-2: presenters changed" not in example_notes  # listed, for a new session
    with factory() as db:
        learning_set = db.scalar(select(LearningSet).where(LearningSet.slug == SLUG))
        first = next(m for m in learning_set.meetings if m.key == "session-1")
        assert len(first.attendance) == 5  # Chidera's apologies went with the line
        assert sorted(u.email for u in learning_set.facilitators) == [
            "r.patel@example.nhs.uk",
            "s.oneil@example.nhs.uk",
        ]
        by_slug = {r.slug: r for r in db.scalars(select(CustomResource))}
        makers = {u.email: u.id for u in db.scalars(select(User))}
        assert {slug: r.created_by for slug, r in by_slug.items()} == {
            "riverside-qi-handbook": makers["s.oneil@example.nhs.uk"],
            "ward-rota-guide": makers["r.patel@example.nhs.uk"],
        }
    written = {s["id"]: s for s in yaml.safe_load(_exported(factory))["sessions"]}
    assert (written["kick-off-two"]["presenters"], written["kick-off-two"]["presenters_from"]) == (
        # after session-2's three: the two who have not presented, then the earliest of those
        ["anais.dubois@example.nhs.uk", "rhodri.apsion@example.nhs.uk", "zoe.marsh@example.nhs.uk"],
        "rota",
    )


def _sessions_problems(tmp_path: Path, sessions: str) -> list[str]:
    """The problems of the series file with `sessions` (YAML) in place of its schedule."""
    head = SCHEDULE.read_text("utf-8").split("schedule:\n")[0]
    path = tmp_path / "set.yaml"
    path.write_text(head + sessions, "utf-8")
    with pytest.raises(DataFileError) as caught:
        parse_set_file(path, BANK, TEMPLATES)
    return [str(p).removeprefix(f"{path}:") for p in caught.value.problems]


FIRST = "  - start: 2027-03-11 09:30\n    template: short-action-learning-set\n"
SECOND = "  - start: 2027-03-25 09:30\n    template: short-action-learning-set\n"


def test_sessions_without_ids_are_numbered_by_their_place(factory, tmp_path):
    path = tmp_path / "set.yaml"
    head = SCHEDULE.read_text("utf-8").split("schedule:\n")[0]
    path.write_text(head + "sessions:\n" + FIRST + SECOND, "utf-8")
    assert [s.key for s in parse_set_file(path, BANK, TEMPLATES).sessions] == [
        "session-1",
        "session-2",
    ]
    # an id given to the second that its place gives the first is refused at the id's own line
    assert _sessions_problems(tmp_path, "sessions:\n" + FIRST + SECOND + "    id: session-1\n") == [
        "14: session id 'session-1' is already used (line 10)"
    ]
    # two empty ids are two bad ids, not one id used twice
    empty = "    id: ''\n"
    assert _sessions_problems(tmp_path, "sessions:\n" + FIRST + empty + SECOND + empty) == [
        "12: id: '' is not an id: use lower-case letters, digits and hyphens",
        "15: id: '' is not an id: use lower-case letters, digits and hyphens",
    ]


def test_sessions_that_are_not_a_list_of_mappings_are_refused_in_words(tmp_path):
    assert _sessions_problems(tmp_path, "sessions: 5\n") == [
        "9: sessions: Input should be a valid list"
    ]
    assert _sessions_problems(tmp_path, "sessions:\n  - just some words\n") == [
        "10: Input should be a valid dictionary or instance of SessionEntry"
    ]


def test_message_times_written_without_quotes_are_read_or_refused_as_written(factory, tmp_path):
    """14:00 unquoted is 840 to YAML: 14 hours, not 13 (840 // 61); 24:00 (1440) is refused as
    the time written, not as 'not text'."""
    reminder = '    days_before: 2\n    at: "09:00"\n'
    refused = edited(tmp_path, (reminder, "    days_before: 2\n    at: 24:00\n"))
    with pytest.raises(DataFileError) as caught:
        parse_set_file(refused, BANK, TEMPLATES)
    assert [str(p).removeprefix(f"{refused}:") for p in caught.value.problems] == [
        "25: messages.reminder.ReminderEntry.at: must be a time of day like 09:00, not '24:00'",
        "25: messages.reminder.literal[False]: Input should be False",
    ]
    _import(factory, edited(tmp_path, (reminder, "    days_before: 2\n    at: 14:00\n")))
    assert yaml.safe_load(_exported(factory))["messages"]["reminder"]["at"] == "14:00"


def test_ground_rules_up_to_the_limit_are_taken_and_one_more_character_is_refused(tmp_path):
    text = (REPO_ROOT / "examples" / "learning-set.yaml").read_text("utf-8")
    rules = text[text.index("ground_rules:\n") : text.index("\n# Automatic")]

    def ground_rules(last: int) -> str:  # five rules joined by four newlines
        return "ground_rules:\n" + "".join(f"  - {'x' * n}\n" for n in [999] * 4 + [last])

    at_limit = edited(tmp_path, (rules, ground_rules(1000)))  # 4 × 999 + 1000 + 4 = 5000
    assert len(parse_set_file(at_limit, BANK, TEMPLATES).ground_rules) == 5
    over = edited(tmp_path, (rules, ground_rules(1001)))
    with pytest.raises(DataFileError) as caught:
        parse_set_file(over, BANK, TEMPLATES)
    assert [str(p).removeprefix(f"{over}:") for p in caught.value.problems] == [
        "14: ground_rules: the rules are 5001 characters long; the limit is 5000"
    ]


def test_a_set_without_the_self_assessment_keeps_it_off(factory, tmp_path):
    _import(factory, edited(tmp_path, ("  self_assessment: true\n", "  self_assessment: false\n")))
    assert yaml.safe_load(_exported(factory))["messages"]["self_assessment"] is False


def _refusals(path: Path, **given) -> list[str]:
    with pytest.raises(DataFileError) as caught:
        parse_set_file(path, BANK, TEMPLATES, **given)
    return [str(p).removeprefix(f"{path}:") for p in caught.value.problems]


def test_bad_input_is_refused_in_words_at_its_line(tmp_path):
    path = tmp_path / "set.yaml"
    path.write_text("- id: a-list\n", "utf-8")
    assert _refusals(path) == ["1: a learning-set file must be a mapping of fields"]
    title = "title: KSS Foundation leadership set A\n"
    for bad, words in (
        ("\\0", "contains a NUL character (\\0); remove it"),
        ("\\u2028", "write this on one line"),
    ):
        path = edited(tmp_path, (title, f'title: "KSS set{bad}A"\n'))
        assert _refusals(path) == [f"6: title: {words}"]
    # a resource with an unknown framework area, and pre-work naming no resource anywhere
    path = edited(
        tmp_path,
        (
            "    mlcf: [improving-services.encouraging-improvement-and-innovation]\n",
            "    mlcf: [no-such-area]\n",
        ),
        (
            "    prework: [riverside-qi-handbook]\n",
            "    prework: [riverside-qi-handbook, nowhere]\n",
        ),
    )
    assert _refusals(path) == [
        "41: mlcf: unknown MLCF id 'no-such-area' (see `toolkit frameworks list`)",
        # the file's own resource, refused above, is not there to name either
        "102: prework[0]: no resource 'riverside-qi-handbook' in the library or the file"
        " (see `toolkit resources list`)",
        "102: prework[1]: no resource 'nowhere' in the library or the file"
        " (see `toolkit resources list`)",
    ]


def test_a_facilitator_importing_can_name_only_themselves(tmp_path):
    example = REPO_ROOT / "examples" / "learning-set.yaml"
    assert _refusals(example, importer="r.patel@example.nhs.uk") == [
        "11: facilitator.email: you can name only yourself (r.patel@example.nhs.uk) as the"
        " facilitator; an admin can import a set for someone else"
    ]
    assert parse_set_file(example, BANK, TEMPLATES, importer="s.oneil@example.nhs.uk").path == (
        example
    )


def test_presence_is_refused_for_any_session_not_yet_started(tmp_path):
    """Session 1 has started (its register is fine); session 2 has not."""
    path = edited(
        tmp_path,
        (
            "    title: Action learning set 1\n",
            "    title: Action learning set 1\n"
            "    attendance: {zoe.marsh@example.nhs.uk: present}\n",
        ),
    )
    now = datetime(2026, 12, 1, tzinfo=UTC)
    assert _refusals(path, now=now) == [
        "83: attendance: session 'session-2' starts 2027-01-14 14:00; only apologies can be"
        " recorded before a session starts"
    ]


def test_a_series_in_another_zone_is_checked_on_that_zones_clock(tmp_path):
    """New York's clocks skip 02:00-03:00 on 14 March 2027; London's do not."""
    path = tmp_path / "set.yaml"
    text = SCHEDULE.read_text("utf-8").replace(
        "  first: 2027-03-11 09:30\n  every_weeks: 2\n  count: 4\n",
        "  first: 2027-03-07 02:30\n  every_weeks: 1\n  count: 2\n",
    )
    path.write_text("timezone: America/New_York\n" + text, "utf-8")
    assert _refusals(path) == [
        "11: the series reaches 2027-03-14 02:30, which does not exist locally"
    ]


def test_actions_may_name_the_sessions_of_a_series_and_no_others(tmp_path):
    path = tmp_path / "set.yaml"
    actions = "".join(
        f"  - {{session: {key}, owner: zoe.marsh@example.nhs.uk, text: Act {key}}}\n"
        for key in ("session-1", "session-4", "session-5")
    )
    path.write_text(SCHEDULE.read_text("utf-8") + "actions:\n" + actions, "utf-8")
    assert _refusals(path) == ["17: session: no session 'session-5' in the file's sessions"]


def test_actions_may_name_sessions_by_the_ids_the_file_gives_them(tmp_path):
    path = edited(
        tmp_path,
        KICK_OFF,
        (
            "  - session: session-1\n    owner: rhodri",
            "  - session: kick-off-two\n    owner: rhodri",
        ),
    )
    set_file = parse_set_file(path, BANK, TEMPLATES)
    assert [a.session for a in set_file.actions] == ["session-1", "kick-off-two", "session-1"]


def test_presenters_beyond_the_rounds_are_left_out_with_a_warning(factory, tmp_path):
    four = "      - aoife.nibhriain@example.nhs.uk\n"
    path = edited(tmp_path, (four, four + "      - anais.dubois@example.nhs.uk\n"))
    notes = _import(factory, path)
    assert "warning: session-2: 1 presenter(s) listed beyond the rounds" in notes


def test_an_update_reports_pre_work_and_prompts_it_attached_and_detached(factory, tmp_path):
    _import(factory, REPO_ROOT / "examples" / "learning-set.yaml")
    path = edited(
        tmp_path,
        ("    prework: [riverside-qi-handbook]\n", "    reading: [riverside-qi-handbook]\n"),
        ("      - options-who-to-persuade\n", "      - learning-the-so-what\n"),
    )
    assert _import(factory, path) == [
        "session-4: detached prompt 'options-who-to-persuade'",
        "session-4: attached prompt 'learning-the-so-what'",
        "session-4: removed prework 'riverside-qi-handbook'",
        "session-4: added reading 'riverside-qi-handbook'",
    ]
    written = {s["id"]: s for s in yaml.safe_load(_exported(factory))["sessions"]}
    assert (written["session-4"].get("prework"), written["session-4"]["reading"]) == (
        None,
        ["riverside-qi-handbook"],
    )


def test_replies_from_a_file_are_marked_as_imported(factory, tmp_path):
    """A new reply, and a changed one, come from the import and lose the note they had."""
    rsvp = "    title: Action learning set 2\n"
    first = (
        "    rsvp: {zoe.marsh@example.nhs.uk: tentative, rhodri.apsion@example.nhs.uk: attending}\n"
    )
    _import(factory, edited(tmp_path, (rsvp, rsvp + first)))
    with database.transaction(factory) as db:
        assert {(r.status, r.note, r.source) for r in db.scalars(select(Rsvp))} == {
            ("tentative", "", "import"),
            ("attending", "", "import"),
        }
        for row in db.scalars(select(Rsvp)):
            row.note, row.source = "From the page", "page"
    changed = first.replace("tentative", "apologies")
    assert _import(factory, edited(tmp_path, (rsvp, rsvp + changed))) == [
        "session-3: replies recorded for 2 member(s)"
    ]
    with factory() as db:
        rows = {(r.status, r.note, r.source) for r in db.scalars(select(Rsvp))}
    assert rows == {("apologies", "", "import"), ("attending", "From the page", "page")}


def test_a_session_added_after_it_started_gets_the_rotas_presenters(factory, tmp_path):
    """Session 2 moved to 26 November 2026, before today's import, its presenters left out: it
    is proposed as adding it by hand would have done, though it has started."""
    path = edited(
        tmp_path,
        (
            "    start: 2027-01-14 14:00\n    template: action-learning-set\n"
            "    title: Action learning set 1\n    presenters:\n"
            "      - zoe.marsh@example.nhs.uk\n      - lukasz.wisniewski@example.nhs.uk\n"
            "      - aoife.nibhriain@example.nhs.uk\n",
            "    start: 2026-11-26 14:00\n    template: action-learning-set\n"
            "    title: Action learning set 1\n",
        ),
    )
    _import(factory, path)
    written = {s["id"]: s for s in yaml.safe_load(_exported(factory))["sessions"]}
    assert (written["session-2"]["presenters"], written["session-2"]["presenters_from"]) == (
        [
            "zoe.marsh@example.nhs.uk",
            "lukasz.wisniewski@example.nhs.uk",
            "aoife.nibhriain@example.nhs.uk",
        ],
        "rota",
    )


def test_the_facilitators_resources_leave_in_order_of_their_ids(factory, tmp_path):
    guide = (
        "  - {id: a-ward-guide, title: The ward guide, url: 'https://x.example/b',"
        " kind: reading, minutes: 5}\n"
    )
    path = edited(
        tmp_path,
        ("members:\n", guide + "\nmembers:\n"),  # after riverside-qi-handbook, so added later
        (
            "    prework: [riverside-qi-handbook]\n",
            "    prework: [riverside-qi-handbook, a-ward-guide]\n",
        ),
    )
    _import(factory, path)
    written = yaml.safe_load(_exported(factory))
    assert [r["id"] for r in written["resources"]] == ["a-ward-guide", "riverside-qi-handbook"]


def test_a_message_time_of_plain_0_is_midnight(factory, tmp_path):
    _import(
        factory,
        edited(
            tmp_path, ('    days_before: 2\n    at: "09:00"\n', "    days_before: 2\n    at: 0\n")
        ),
    )
    assert yaml.safe_load(_exported(factory))["messages"]["reminder"]["at"] == "00:00"
