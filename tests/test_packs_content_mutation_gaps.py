"""What packs print: behaviour no test pinned until mutation testing (scripts/mutation.py)."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import date, time, timedelta

import pytest

from toolkit import db as database
from toolkit import sets
from toolkit.accounts import create_user
from toolkit.casebank import LEVELS, ParticipantCase, load_bank
from toolkit.config import REPO_ROOT
from toolkit.frameworks import load_frameworks
from toolkit.models import LearningSet, Meeting
from toolkit.packs import build_pack, render_html
from toolkit.packs.content import PROCESS_REVIEW_QUESTIONS, qr_svg
from toolkit.planning import local_start
from toolkit.programmes.records import create_programme
from toolkit.resources import attach_resource, catalogue
from toolkit.session_templates import load_session_templates

BANK = load_bank(REPO_ROOT / "casebank")
FRAMEWORKS = load_frameworks()
TEMPLATES = load_session_templates(REPO_ROOT / "session_templates")
CASE = "the-stalled-sepsis-project"
PROGRAMME = "KSS Foundation leadership 2027"
PREWORK = ("healthcare-leadership-model",)
PEOPLE = [("Ann Avery", "FY1"), ("Ben Bose", "FY2"), ("Cat Cole", "CT1"), ("Dev Das", "ST3")]
PEOPLE += [("Eve Eze", "ST4"), ("Fay Fox", "GPST2")]


def text_of(page: str) -> str:
    """A document's words as a reader sees them: tags dropped, entities read, spaces collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()


@pytest.fixture
def factory(env):
    return database.session_factory(database.make_engine(env.database_url))


@pytest.fixture
def set_id(factory) -> int:
    """Six members (the last since removed), two facilitators, three action-learning sessions a
    fortnight apart from Thu 25 Mar 2027 14:00; session 2 has a case, prompts, pre-work and
    reading, an action from session 1 by a member since deleted and one by Ann."""
    with database.transaction(factory) as db:
        owner = create_user(db, "fac@example.org", None, "Dr Facilitator")
        second = create_user(db, "co@example.org", None, "Dr Co-Facilitator")
        create_programme(db, "kss-2027", PROGRAMME)
        s = sets.create_set(
            db, owner, "set-a", "Set A", venue="Seminar Room 2", programme="kss-2027"
        )
        s.facilitators.append(second)
        s.video_url = "https://teams.example/meet/set-a"
        members = [
            sets.add_member(db, s, name, f"m{n}@example.nhs.uk", grade)
            for n, (name, grade) in enumerate(PEOPLE)
        ]
        sets.set_ground_rules(db, s, "Arrive on time.\n\n   \nListen first.\n")
        start = local_start(date(2027, 3, 25), time(14, 0), "Europe/London")
        first, middle, _last = sets.add_series(db, s, start, 2, 3, TEMPLATES["action-learning-set"])
        sets.attach(db, middle, BANK, case_id=CASE)
        for stage in ("process-review", "contracting"):
            for audience in ("participants", "facilitator"):
                prompt = next(
                    p for p in BANK.prompts.values() if (p.stage, p.audience) == (stage, audience)
                )
                sets.attach(db, middle, BANK, prompt_id=prompt.id)
        library = catalogue(db, BANK)
        for resource_id in PREWORK:
            attach_resource(db, middle, library, resource_id, "prework")
        reading = next(r for r in library if r not in PREWORK)
        attach_resource(db, middle, library, reading, "reading")
        sets.add_action(db, first, members[0].id, "Shadow the bed manager", "May", "Ask Dr Lee")
        sets.add_action(db, first, members[1].id, "Audit the handover sheet")
        sets.delete_member(db, members[1])
        sets.remove_member(db, members[5])
        return s.id


def _meetings(db, set_id: int) -> list[Meeting]:
    return sets.meetings_in_order(db.get(LearningSet, set_id))


def _pack(db, meeting: Meeting, now=None):
    return build_pack(db, meeting, BANK, FRAMEWORKS, now=now)


def test_the_pack_names_the_set_session_time_place_and_people(factory, set_id):
    with factory() as db:
        middle = _meetings(db, set_id)[1]
        pack = _pack(db, middle)
        library = catalogue(db, BANK)
    assert (pack.set_title, pack.number, pack.count) == ("Set A", 2, 3)
    assert pack.programme == PROGRAMME
    assert PROGRAMME in text_of(render_html("facilitator-pack", pack))
    assert pack.facilitators == "Dr Facilitator, Dr Co-Facilitator"
    assert pack.title == "Action learning"
    assert (pack.day, pack.start, pack.end) == ("Thursday 8 April 2027", "14:00", "17:15")
    assert (pack.minutes, pack.hours, pack.time_zone) == (195, "3.25", "Europe/London")
    assert pack.venue == "Seminar Room 2" and pack.video_url == "https://teams.example/meet/set-a"
    assert pack.status == "scheduled" and pack.set_id == set_id
    assert pack.running_title == "Set A · Session 2: Action learning"
    # the removed member is off the register; the deleted one is gone everywhere
    assert [p.name for p in pack.members] == ["Ann Avery", "Cat Cole", "Dev Das", "Eve Eze"]
    assert [p.grade for p in pack.members] == ["FY1", "CT1", "ST3", "ST4"]
    assert pack.ground_rules == ("Arrive on time.", "Listen first.")
    assert pack.actions[0].member == "Ann Avery"
    assert (pack.actions[0].text, pack.actions[0].due, pack.actions[0].support) == (
        "Shadow the bed manager",
        "May",
        "Ask Dr Lee",
    )
    assert pack.actions[1].member == "Former member"
    assert pack.actions[1].text == "Audit the handover sheet"
    (prework,) = pack.prework
    resource = library[PREWORK[0]]
    assert (prework.title, prework.kind, prework.minutes, prework.url, prework.description) == (
        resource.title,
        resource.kind,
        resource.minutes,
        resource.url,
        resource.description,
    )
    assert pack.prework_minutes == resource.minutes and len(pack.reading) == 1
    assert pack.reading[0].title != prework.title
    assert f"QR code for {resource.url}" in prework.qr_svg and prework.qr_svg.startswith("<svg")


def test_a_sessions_own_place_and_link_win_over_the_sets(factory, set_id):
    with database.transaction(factory) as db:
        middle = _meetings(db, set_id)[1]
        sets.change_meeting(db, middle, venue="Library", video_url="https://zoom.example/j/1")
    with factory() as db:
        pack = _pack(db, _meetings(db, set_id)[1])
    assert (pack.venue, pack.video_url) == ("Library", "https://zoom.example/j/1")


def test_hours_of_learning_are_written_as_a_portfolio_would(factory, set_id):
    with database.transaction(factory) as db:
        first, middle, last = _meetings(db, set_id)
        sets.change_meeting(db, first, minutes=120)
        sets.change_meeting(db, middle, minutes=150)
        sets.change_meeting(db, last, minutes=200)
    with factory() as db:
        hours = [_pack(db, m).hours for m in _meetings(db, set_id)]
    assert hours == ["2", "2.5", "3.33"]


def test_the_rota_names_each_rounds_presenter_or_says_to_be_agreed(factory, set_id):
    with database.transaction(factory) as db:
        middle = _meetings(db, set_id)[1]
        ids = {m.name: m.id for m in middle.learning_set.members}
        sets.set_presenters(db, middle, [ids["Dev Das"], None, ids["Ann Avery"]])
    with factory() as db:
        pack = _pack(db, _meetings(db, set_id)[1])
    assert pack.rota == (
        ("Presenter round 1", "Dev Das"),
        ("Presenter round 2", "to be agreed"),
        ("Presenter round 3", "Ann Avery"),
    )
    rounds = [r for r in pack.agenda if r.kind == "presenter"]
    assert [r.presenter for r in rounds] == ["Dev Das", "", "Ann Avery"]
    others = [r for r in pack.agenda if r.kind != "presenter"]
    assert others and all(r.presenter == "" for r in others)


def test_agenda_rows_carry_clock_times_minutes_and_notes(factory, set_id):
    with factory() as db:
        middle = _meetings(db, set_id)[1]
        blocks = sets.agenda(middle)
        pack = _pack(db, middle)
    assert [(r.title, r.kind, r.minutes, r.notes, r.handout) for r in pack.agenda] == [
        (t.block.title, t.block.kind, t.block.minutes, t.block.notes, t.block.handout)
        for t in blocks
    ]
    assert [(r.start, r.end) for r in pack.agenda[:3]] == [
        ("14:00", "14:15"),
        ("14:15", "14:20"),
        ("14:20", "14:40"),
    ]
    assert all(pack.agenda[i].end == pack.agenda[i + 1].start for i in range(len(pack.agenda) - 1))


def test_an_overrunning_agenda_is_flagged_in_the_facilitator_pack_only(factory, set_id):
    with database.transaction(factory) as db:
        middle = _meetings(db, set_id)[1]
        sets.add_block(db, middle, "Extra round", "presenter", 30)
    with factory() as db:
        pack = _pack(db, _meetings(db, set_id)[1])
    # the case's 30 minutes and the extra round's 30 run past the 17:15 end of the slot
    assert pack.overrun.startswith(
        "The agenda runs 60 min over the slot: it would end at 18:15 instead of 17:15."
    )
    facilitator = text_of(render_html("facilitator-pack", pack))
    assert f"Over-run: {pack.overrun}" in facilitator
    assert "Over-run" not in text_of(render_html("handout", pack))
    assert pack.for_participants().overrun == ""


def test_framework_areas_in_framework_order_and_headline_domains(factory, set_id):
    with factory() as db:
        pack = _pack(db, _meetings(db, set_id)[1])
        meeting = _meetings(db, set_id)[1]
        tagged = [BANK.cases[c.case_id] for c in meeting.cases]
        tagged += [BANK.prompts[p.prompt_id] for p in meeting.prompts]
    expected, headline = [], []
    for framework in FRAMEWORKS:
        tags = {t for item in tagged for t in getattr(item.tags, framework.key)}
        domains = {t.split(".")[0] for t in tags}
        expected += [f"{framework.short} {a.label}" for a in framework.areas if a.id in tags]
        headline += [f"{framework.short} {a.label}" for a in framework.areas if a.id in domains]
    assert pack.areas == tuple(expected) and pack.headline_areas == tuple(headline)
    shorts = [label.split()[0] for label in pack.areas]
    assert shorts == sorted(shorts, key=["HLM", "MLCF", "GPC"].index)
    assert {"HLM", "MLCF", "GPC"} <= set(shorts)
    # an MLCF element ("2.3 …") stands in the full list; only its domain ("2 …") is a headline
    assert any(re.match(r"MLCF \d\.\d", a) for a in pack.areas)
    assert all(not re.match(r"MLCF \d\.\d", a) for a in pack.headline_areas)
    assert any(a.startswith("MLCF ") for a in pack.headline_areas)


def test_prompts_are_grouped_by_stage_in_questioning_order_and_facilitators_keep_theirs(
    factory, set_id
):
    with factory() as db:
        meeting = _meetings(db, set_id)[1]
        attached = [BANK.prompts[p.prompt_id] for p in meeting.prompts]
        pack = _pack(db, meeting)
    assert [(p.stage, p.text, p.audience) for p in pack.prompts] == [
        (p.stage, p.text, p.audience) for p in attached
    ]
    page = text_of(render_html("facilitator-pack", pack))
    assert all(" ".join(p.text.split()) in page for p in attached)
    groups = pack.prompts_by_stage()
    assert [label for label, _rows in groups] == [
        "Contracting: agreeing how the set works",
        "Process review",
    ]
    assert all(len(rows) == 2 for _label, rows in groups)
    assert {p.audience for _l, rows in groups for p in rows} == {"participants", "facilitator"}
    participant = pack.for_participants()
    assert [p.audience for p in participant.prompts] == ["participants", "participants"]
    assert [len(rows) for _l, rows in participant.prompts_by_stage()] == [1, 1]


def test_the_participants_pack_keeps_the_session_and_drops_what_is_for_facilitators(
    factory, set_id
):
    with database.transaction(factory) as db:
        middle = _meetings(db, set_id)[1]
        sets.add_block(db, middle, "Facilitators' debrief", "input", 5, "Who was quiet?", False)
    with factory() as db:
        pack = _pack(db, _meetings(db, set_id)[1])
    participant = pack.for_participants()
    assert participant.participant and not pack.participant
    assert [r.title for r in participant.agenda] == [r.title for r in pack.agenda if r.handout]
    assert "Facilitators' debrief" not in [r.title for r in participant.agenda]
    assert all(r.notes == "" for r in participant.agenda)
    assert any(r.notes for r in pack.agenda)
    assert participant.actions == () and len(pack.actions) == 2
    assert all(isinstance(c, ParticipantCase) for c in participant.cases)
    assert [c.title for c in participant.cases] == [c.title for c in pack.cases]
    assert participant.members == pack.members and participant.prework == pack.prework


def test_the_register_takes_the_chosen_columns_in_the_forms_order(factory, set_id):
    with factory() as db:
        pack = _pack(db, _meetings(db, set_id)[1])
    chosen = pack.with_register(["arrival", "shoe size", "gmc"])
    assert chosen.register == ("gmc", "arrival")
    assert chosen.register_headings == ("GMC number", "Arrival time")
    assert pack.with_register(["arrival"]).register_headings == ("Arrival time",)
    page = text_of(render_html("sign-in", chosen))
    assert "GMC number" in page and "Arrival time" in page
    assert "GMC number" not in text_of(render_html("sign-in", pack))


def test_the_facilitator_pack_prints_the_process_review_questions(factory, set_id):
    with factory() as db:
        pack = _pack(db, _meetings(db, set_id)[1])
    page = text_of(render_html("facilitator-pack", pack))
    for question in PROCESS_REVIEW_QUESTIONS:
        assert question in page


def test_only_the_first_and_final_sessions_carry_the_self_assessment(factory, set_id):
    with factory() as db:
        packs = [_pack(db, m) for m in _meetings(db, set_id)]
    assert [p.self_assessment for p in packs] == [True, False, True]
    statements = packs[0].statements
    dimensions = [a for a in FRAMEWORKS.hlm.areas if a.id in BANK.statements]
    assert [name for name, _levels in statements] == [a.name for a in dimensions]
    assert len(statements) == 9
    first = dimensions[0]
    assert statements[0][1] == tuple(BANK.statements[first.id][level] for level in LEVELS)
    assert not replace(packs[0], statements=()).self_assessment


def test_members_present_count_only_once_the_session_has_started(factory, set_id):
    with database.transaction(factory) as db:
        middle = _meetings(db, set_id)[1]
        people = {m.name: m.id for m in middle.learning_set.members}
        after = middle.starts_at + timedelta(hours=1)
        marks = {people["Ann Avery"]: "present", people["Cat Cole"]: "present"}
        marks[people["Dev Das"]] = "apologies"
        sets.record_attendance(db, middle, marks, now=after)
    with factory() as db:
        middle = _meetings(db, set_id)[1]
        before = _pack(db, middle, now=middle.starts_at - timedelta(minutes=1))
        during = _pack(db, middle, now=middle.starts_at + timedelta(hours=1))
    assert before.present == ()
    assert "Ann Avery" not in text_of(render_html("certificates", before))
    certificates = text_of(render_html("certificates", during))
    assert PROGRAMME in certificates and "Ann Avery" in certificates
    assert "Dev Das" not in certificates
    assert [(p.name, p.grade) for p in during.present] == [
        ("Ann Avery", "FY1"),
        ("Cat Cole", "CT1"),
    ]


def test_stripping_a_pack_for_participants_twice_changes_nothing(factory, set_id):
    """Every participant document strips the pack it is given, so a pack stripped already (for
    a preview, say) must come out the same: its cases stay the participant version."""
    with factory() as db:
        pack = _pack(db, _meetings(db, set_id)[1])
    once = pack.for_participants()
    assert once.for_participants() == once
    assert render_html("handout", once) == render_html("handout", pack)


FORMAT_MASK = 0b101010000010010  # ISO/IEC 18004: the mask over a QR code's format information
LEVELS_BY_BITS = {0b01: "L", 0b00: "M", 0b11: "Q", 0b10: "H"}


def dark_modules(svg: str) -> set[tuple[int, int]]:
    """(column, row) of every dark module of an inline SVG QR code drawn as one path of runs."""
    path = re.search(r' d="([^"]+)"', svg).group(1)
    dark, x, y = set(), 0.0, 0.0
    for op, args in re.findall(r"([Mmh])([^Mmh]*)", path):
        numbers = [float(n) for n in args.replace(",", " ").split()]
        if op == "M":
            x, y = numbers
        elif op == "m":
            x, y = x + numbers[0], y + numbers[1]
        else:
            dark |= {(int(x) + i, int(y)) for i in range(int(numbers[0]))}
            x += numbers[0]
    left, top = min(c for c, _ in dark), min(r for _, r in dark)
    return {(c - left, r - top) for c, r in dark}


def error_correction(dark: set[tuple[int, int]]) -> str:
    """The error-correction level a scanner reads from the symbol's two copies of its format
    information (beside the top-left finder, and split by the other two)."""
    size = max(c for c, _ in dark) + 1

    def bits(cells):
        return [int(cell in dark) for cell in cells]

    first = bits(
        [(c, 8) for c in (0, 1, 2, 3, 4, 5, 7, 8)] + [(8, r) for r in (7, 5, 4, 3, 2, 1, 0)]
    )
    second = bits([(8, r) for r in range(size - 1, size - 8, -1)])
    second += bits([(c, 8) for c in range(size - 8, size)])
    assert first == second  # both copies agree, so the symbol was read right
    word = int("".join(map(str, first)), 2) ^ FORMAT_MASK
    return LEVELS_BY_BITS[word >> 13]


def test_printed_qr_codes_survive_a_crease_with_at_least_medium_error_correction(factory, set_id):
    """A handout gets folded and smudged: each QR code must be able to lose some 15 % of its
    modules (level M or better), even for a short link that would fit a smaller, weaker code."""
    with factory() as db:
        pack = _pack(db, _meetings(db, set_id)[1])
    rows = [*pack.prework, *pack.reading]
    assert rows
    for row in rows:
        assert error_correction(dark_modules(row.qr_svg)) in ("M", "Q", "H"), row.url
    assert error_correction(dark_modules(qr_svg("https://chfg.org/"))) in ("M", "Q", "H")


def test_an_agenda_that_fits_its_slot_carries_no_over_run_warning(factory, set_id):
    with factory() as db:
        first = _meetings(db, set_id)[0]  # no case attached: it fits its 195 minutes
        assert sets.overrun(first) is None
        pack = _pack(db, first)
    assert pack.overrun == ""
    assert "Over-run" not in text_of(render_html("facilitator-pack", pack))
