"""Planning: behaviour no test pinned until mutation testing (scripts/mutation.py)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from toolkit.config import REPO_ROOT
from toolkit.planning import (
    PlannedBlock,
    check_overrun,
    expand_template,
    local_start,
    propose_rota,
    series_starts,
    timed_agenda,
)
from toolkit.session_templates import load_session_templates

TEMPLATES = load_session_templates(REPO_ROOT / "session_templates")


def test_a_single_session_and_a_weekly_series_are_series_too():
    first = local_start(date(2027, 1, 7), time(9, 30), "Europe/London")
    assert series_starts(first, 1, 1) == [first]
    weekly = series_starts(first, 1, 3)
    assert [s.date() for s in weekly] == [date(2027, 1, 7), date(2027, 1, 14), date(2027, 1, 21)]
    with pytest.raises(ValueError, match=r"^every_weeks and count must be at least 1$"):
        series_starts(first, 0, 3)
    with pytest.raises(ValueError, match=r"^every_weeks and count must be at least 1$"):
        series_starts(first, 2, 0)
    with pytest.raises(ValueError, match=r"^the first start needs a time zone$"):
        series_starts(datetime(2027, 1, 7, 9, 30), 2, 3)


def test_a_series_at_a_time_the_clocks_pass_twice_keeps_the_reading_chosen():
    """01:30 on 31 Oct 2027 happens twice in London; the second (GMT) reading is kept each time
    the series lands on a day it happens twice, and every start is 01:30 on the wall clock."""
    zone = ZoneInfo("Europe/London")
    second = datetime(2027, 10, 31, 1, 30, tzinfo=zone, fold=1)
    starts = series_starts(second, 52, 2)  # a year on: 29 Oct 2028, when it happens twice again
    assert [s.fold for s in starts] == [1, 1]
    assert starts[0].utcoffset() == timedelta(0)
    assert [(s.hour, s.minute) for s in starts] == [(1, 30), (1, 30)]
    first = series_starts(second.replace(fold=0), 1, 1)[0]
    assert first.utcoffset() == timedelta(hours=1)


def test_the_first_session_has_no_review_of_actions_and_later_ones_do():
    template = TEMPLATES["action-learning-set"]
    later = expand_template(template, [1, 2, 3])
    first = expand_template(template, [1, 2, 3], first=True)
    assert "action-review" in [b.kind for b in later]
    assert "action-review" not in [b.kind for b in first]
    assert len(later) == len(first) + 1
    review = next(b for b in later if b.kind == "action-review")
    source = next(b for b in template.blocks if b.kind == "action-review")
    assert (review.title, review.minutes, review.notes, review.handout) == (
        source.title,
        source.minutes,
        source.notes,
        source.handout,
    )
    assert all(b.presenter is None for b in later if b.kind != "presenter")


def test_a_block_ending_exactly_at_the_end_of_the_slot_is_not_late():
    start = local_start(date(2027, 5, 6), time(14, 0), "Europe/London")
    blocks = [PlannedBlock("Round", "presenter", 45), PlannedBlock("Close", "close", 15)]
    timed = timed_agenda(start, 60, blocks)
    assert [t.over for t in timed] == [False, False]
    assert check_overrun(start, 60, blocks) is None
    late = timed_agenda(start, 59, blocks)
    assert [t.over for t in late] == [False, True]
    over = check_overrun(start, 59, blocks)
    assert (over.minutes, over.first_late) == (1, "Close")
    assert (over.planned_end, over.slot_end) == (
        start + timedelta(hours=1),
        late[-1].end - timedelta(minutes=1),
    )
    assert over.message() == (
        "The agenda runs 1 min over the slot: it would end at 15:00 instead of 14:59. "
        "'Close' is the first block that ends late; shorten or remove blocks, or lengthen the "
        "session."
    )


def test_the_rota_breaks_ties_by_who_presented_longest_ago_then_by_list_order():
    members = [5, 3, 9]
    # 3 and 9 each presented once, 9 longer ago; 5 never: 5 first, then 9, then 3
    assert propose_rota(members, [[9], [3]], [], 3) == [5, 9, 3]
    # nobody has presented: the list's order
    assert propose_rota(members, [], [], 2) == [5, 3]
    # a former member in the history changes nothing
    assert propose_rota(members, [[7], [7, 5]], [], 3) == [3, 9, 5]
    # of two who presented in the same session, the list's order decides
    assert propose_rota(members, [[3, 9]], [], 3) == [5, 3, 9]


def test_a_facilitator_only_block_stays_out_of_the_handout_once_expanded():
    """The test data's case-discussion template ends with a `handout: false` block; expanding
    the template must keep it off the participant handout (and repeated rounds keep theirs)."""
    data = load_session_templates(Path(__file__).parent / "data" / "session_templates")
    template = data["case-discussion-with-debrief"]
    blocks = expand_template(template, [7, 8])
    private = [b for b in template.blocks if not b.handout]
    assert private, "the test template should have a facilitator-only block"
    assert [b.title for b in blocks if not b.handout] == [b.title for b in private]
    assert all(b.handout for b in blocks if b.title not in {p.title for p in private})
