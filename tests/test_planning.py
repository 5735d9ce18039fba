from datetime import date, datetime, time, timedelta
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

LONDON = "Europe/London"


def test_series_keeps_local_time_across_both_clock_changes():
    # 2027: clocks go forward on Sunday 28 March and back on Sunday 31 October.
    first = local_start(date(2027, 3, 11), time(14, 0), LONDON)
    starts = series_starts(first, every_weeks=2, count=3)
    assert [s.strftime("%Y-%m-%d %H:%M") for s in starts] == [
        "2027-03-11 14:00",
        "2027-03-25 14:00",
        "2027-04-08 14:00",
    ]
    assert [s.utcoffset() for s in starts] == [timedelta(0), timedelta(0), timedelta(hours=1)]
    autumn = series_starts(local_start(date(2027, 10, 28), time(9, 30), LONDON), 1, 2)
    assert [s.hour for s in autumn] == [9, 9]
    assert autumn[0].astimezone(ZoneInfo("UTC")).hour == 8
    assert autumn[1].astimezone(ZoneInfo("UTC")).hour == 9


def test_series_needs_a_zone_and_sensible_numbers():
    with pytest.raises(ValueError, match="time zone"):
        series_starts(datetime(2027, 1, 1, 14), 4, 3)
    with pytest.raises(ValueError):
        series_starts(local_start(date(2027, 1, 1), time(14), LONDON), 0, 3)


def test_timed_agenda_clock_times_and_overrun_location():
    start = local_start(date(2027, 3, 28), time(13, 0), LONDON)  # the day the clocks change
    blocks = [PlannedBlock("Check-in", "check-in", 15), PlannedBlock("Round", "presenter", 40)]
    timed = timed_agenda(start, 60, blocks)
    assert [(t.start.strftime("%H:%M"), t.end.strftime("%H:%M")) for t in timed] == [
        ("13:00", "13:15"),
        ("13:15", "13:55"),
    ]
    assert check_overrun(start, 60, blocks) is None
    blocks.append(PlannedBlock("Close", "close", 20))
    over = check_overrun(start, 60, blocks)
    assert over.minutes == 15 and over.first_late == "Close"
    assert "ends at" not in over.message()
    assert "end at 14:15 instead of 14:00" in over.message()


def test_template_expansion_names_rounds_and_presenters():
    template = load_session_templates(REPO_ROOT / "session_templates")["action-learning-set"]
    blocks = expand_template(template, [11, 12, None])
    rounds = [b for b in blocks if b.kind == "presenter"]
    assert [b.title for b in rounds] == [
        "Presenter round 1",
        "Presenter round 2",
        "Presenter round 3",
    ]
    assert [b.presenter for b in rounds] == [11, 12, None]
    assert sum(b.minutes for b in blocks) == 190


def test_rota_everyone_once_before_anyone_twice():
    members = [1, 2, 3, 4, 5, 6]
    history: list[list[int]] = []
    for _ in range(4):
        history.append(propose_rota(members, history, [], 3))
    flat = [m for session in history for m in session]
    assert sorted(flat[:6]) == members  # first two sessions: everyone once
    assert sorted(flat[6:]) == members  # next two: everyone a second time
    assert all(len(set(s)) == len(s) for s in history)


def test_rota_skips_apologies_and_catches_them_up_later():
    members = [1, 2, 3, 4]
    first = propose_rota(members, [], unavailable=[1], count=2)
    assert first == [2, 3]
    second = propose_rota(members, [first], unavailable=[], count=2)
    assert second == [1, 4]
    third = propose_rota(members, [first, second], unavailable=[], count=2)
    assert third == [2, 3]  # presented longest ago


def test_rota_with_more_slots_than_available_members():
    assert propose_rota([1, 2], [], unavailable=[2], count=3) == [1]
